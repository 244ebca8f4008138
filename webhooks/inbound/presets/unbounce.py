"""Unbounce: the "POST to URL" webhook, form-encoded, answers in the `data.json` field (each
answer a list). Unbounce sets no header and signs nothing checkable here: a secret URL."""

DATA = "data.json"

PRESETS = [
    {
        "key": "unbounce",
        "vendor": "Unbounce",
        "name": "Unbounce (landing page form)",
        "auth_mode": "url_token",
        "content_type": "application/x-www-form-urlencoded",
        "rows": [
            {"field": "business_email", "source_path": f"{DATA}/email/0"},
            {"field": "first_name", "source_path": f"{DATA}/first_name/0"},
            {"field": "last_name", "source_path": f"{DATA}/last_name/0"},
            {
                "field": "mobile_phone",
                "source_path": f"{DATA}/phone_number/0",
                "transforms": [{"name": "phone_e164"}],
            },
            {
                "field": "company_name",
                "source_path": f"{DATA}/company/0",
                "note": "Field ids are your form's (Form builder ▸ field ▸ Field name and ID).",
            },
            {"field": "website", "source_path": "page_url", "note": "The landing page the form was on."},
        ],
        "setup": [
            "In Unbounce, open the page ▸ Integrations ▸ Webhook ▸ Add webhook (POST to URL) and paste this "
            "webhook's URL with its token (Reveal it under Credentials).",
            "Publish the page, submit the form, then check the request log.",
        ],
    }
]
