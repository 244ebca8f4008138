"""HubSpot: a workflow's "Send a webhook" action with a customised body (flat property names,
API key in a header), and a form submission's contact in HubSpot's classic contact format
(`properties/<name>/value`), signed with the app's client secret (v3)."""

PROPERTY = "properties/{}/value"

PRESETS = [
    {
        "key": "hubspot_workflow",
        "vendor": "HubSpot",
        "name": "HubSpot workflow webhook (contact properties)",
        "auth_mode": "api_key_header",
        "auth_settings": {"auth_header": "X-API-Key"},
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": "email"},
            {"field": "first_name", "source_path": "firstname"},
            {"field": "last_name", "source_path": "lastname"},
            {"field": "mobile_phone", "source_path": "mobilephone", "transforms": [{"name": "phone_e164"}]},
            {"field": "office_phone", "source_path": "phone", "transforms": [{"name": "phone_e164"}]},
            {"field": "company_name", "source_path": "company"},
            {"field": "job_title", "source_path": "jobtitle"},
            {"field": "website", "source_path": "website"},
            {"field": "city", "source_path": "city"},
            {"field": "state", "source_path": "state"},
            {"field": "country", "source_path": "country"},
            {
                "field": "lead_status",
                "source_path": "hs_lead_status",
                "note": "HubSpot's status names (NEW, OPEN, IN_PROGRESS…) need a value map to ours.",
                "transforms": [{"name": "value_map"}],
            },
        ],
        "suggested_custom_fields": [
            {
                "field": "interests",
                "source_path": "interests",
                "note": "A multi-select arrives as one text, options joined by ';'.",
                "transforms": [{"name": "split", "delimiter": ";"}],
            }
        ],
        "setup": [
            "Automation ▸ Workflows ▸ your contact workflow ▸ add the action Send a webhook: Method POST, "
            "Webhook URL = this webhook's URL.",
            "Authentication type: API key; API key name X-API-Key, location Request header; the value is "
            "an API key of this workspace with the Receive scope.",
            "Request body: Customize request body, and add the properties email, firstname, lastname, "
            "mobilephone, phone, company, jobtitle, website, city, state, country (their internal names).",
            "Test action with a contact, then check the request log.",
        ],
    },
    {
        "key": "hubspot_form_submission",
        "vendor": "HubSpot",
        "name": "HubSpot form submission (contact, signed v3)",
        "auth_mode": "hubspot_v3",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": PROPERTY.format("email")},
            {"field": "first_name", "source_path": PROPERTY.format("firstname")},
            {"field": "last_name", "source_path": PROPERTY.format("lastname")},
            {
                "field": "mobile_phone",
                "source_path": PROPERTY.format("mobilephone"),
                "transforms": [{"name": "phone_e164"}],
            },
            {
                "field": "office_phone",
                "source_path": PROPERTY.format("phone"),
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "company_name", "source_path": PROPERTY.format("company")},
            {"field": "job_title", "source_path": PROPERTY.format("jobtitle")},
            {"field": "website", "source_path": PROPERTY.format("website")},
            {"field": "city", "source_path": PROPERTY.format("city")},
            {"field": "country", "source_path": PROPERTY.format("country")},
            {"field": "number_of_employees", "source_path": PROPERTY.format("numemployees")},
        ],
        "setup": [
            "Automation ▸ Workflows ▸ Create workflow from scratch ▸ Contact-based; trigger: Form "
            "submission ▸ your form.",
            "Add Send a webhook: Method POST, Webhook URL = this webhook's URL, Request body: Include all "
            "contact properties; Authentication type: Include request signature in header (your app ID).",
            "Your app's client secret (Development ▸ Apps ▸ Auth) is this webhook's signing secret; "
            "HubSpot signs the URL too, so use the URL exactly as shown here.",
        ],
    },
]
