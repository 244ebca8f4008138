"""Webflow: the form_submission webhook, signed (x-webflow-signature over timestamp:body)."""

DATA = "payload/data"

PRESETS = [
    {
        "key": "webflow_form",
        "vendor": "Webflow",
        "name": "Webflow form submission",
        "auth_mode": "webflow",
        "content_type": "application/json",
        "rows": [
            {
                "field": "business_email",
                "source_path": f"{DATA}/Email",
                "note": "Keys are your form's field names, as named in the Designer.",
            },
            {"field": "name", "source_path": f"{DATA}/Name", "transforms": [{"name": "split_name"}]},
            {"field": "mobile_phone", "source_path": f"{DATA}/Phone", "transforms": [{"name": "phone_e164"}]},
            {"field": "company_name", "source_path": f"{DATA}/Company"},
            {"field": "about", "source_path": f"{DATA}/Message"},
            {"field": "created_date", "source_path": "payload/submittedAt"},
        ],
        "setup": [
            "Create the webhook with trigger type form_submission and this webhook's URL (Site settings ▸ "
            "Apps & integrations ▸ Webhooks, or the Data API).",
            "Webflow signs webhooks created by an OAuth app (its client secret) or with a webhook secret: "
            "paste that as this webhook's signing secret. A webhook Webflow doesn't sign can't pass this "
            "mode: choose the secret URL token instead.",
            "Submit the form on the published site, then check the request log.",
        ],
    }
]
