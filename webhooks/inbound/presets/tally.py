"""Tally: the FORM_RESPONSE webhook, signed when a signing secret is set (Tally-Signature)."""

FIELDS = "data/fields"

PRESETS = [
    {
        "key": "tally",
        "vendor": "Tally",
        "name": "Tally (form response)",
        "auth_mode": "tally",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{FIELDS}/[type=INPUT_EMAIL]/value"},
            {
                "field": "mobile_phone",
                "source_path": f"{FIELDS}/[type=INPUT_PHONE_NUMBER]/value",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "website", "source_path": f"{FIELDS}/[type=INPUT_LINK]/value"},
            {
                "field": "first_name",
                "source_path": f"{FIELDS}/[label=First name]/value",
                "note": "By the question's label, as written in your form.",
            },
            {"field": "last_name", "source_path": f"{FIELDS}/[label=Last name]/value"},
            {"field": "company_name", "source_path": f"{FIELDS}/[label=Company]/value"},
            {"field": "created_date", "source_path": "data/createdAt"},
        ],
        "setup": [
            "In Tally, open the form ▸ Integrations ▸ Webhooks ▸ Connect: Endpoint URL = this webhook's URL.",
            "Signing secret: type a long random secret there and paste the same value as this webhook's "
            "signing secret.",
            "Submit the form once, then check the request log.",
        ],
    }
]
