"""Gravity Forms: the Webhooks Add-On, JSON body with all fields keyed by field id."""

PRESETS = [
    {
        "key": "gravity_forms",
        "vendor": "Gravity Forms",
        "name": "Gravity Forms (Webhooks Add-On)",
        "auth_mode": "api_key_header",
        "auth_settings": {"auth_header": "X-API-Key"},
        "content_type": "application/json",
        "rows": [
            {
                "field": "first_name",
                "source_path": "1.3",
                "note": "Field ids are your form's: a Name field's first/last are <id>.3 and <id>.6.",
            },
            {"field": "last_name", "source_path": "1.6"},
            {"field": "business_email", "source_path": "2"},
            {"field": "mobile_phone", "source_path": "3", "transforms": [{"name": "phone_e164"}]},
            {"field": "company_name", "source_path": "4"},
            {"field": "lead_source", "source_path": "source_url"},
            {"field": "created_date", "source_path": "date_created", "note": 'UTC, "YYYY-MM-DD HH:MM:SS".'},
        ],
        "setup": [
            "WordPress ▸ Forms ▸ your form ▸ Settings ▸ Webhooks ▸ Add New: Request URL = this webhook's "
            "URL, Request Method POST, Request Format JSON.",
            "Request Headers: add X-API-Key with an API key of this workspace that has the Receive scope.",
            "Request Body: All Fields. Submit the form, then check the request log and adjust the field ids.",
        ],
    }
]
