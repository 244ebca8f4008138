"""Typeform: the `form_response` webhook, signed with the webhook's secret (Typeform-Signature)."""

ANSWERS = "form_response/answers"

PRESETS = [
    {
        "key": "typeform",
        "vendor": "Typeform",
        "name": "Typeform (form response)",
        "auth_mode": "typeform",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{ANSWERS}/[type=email]/email"},
            {
                "field": "first_name",
                "source_path": f"{ANSWERS}/0/text",
                "note": "Positional: the form's first question. With nested selectors use "
                f"{ANSWERS}/[field/ref=first_name]/text (the question's ref).",
            },
            {
                "field": "last_name",
                "source_path": f"{ANSWERS}/1/text",
                "note": "Positional: the second question.",
            },
            {
                "field": "mobile_phone",
                "source_path": f"{ANSWERS}/[type=phone_number]/phone_number",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "website", "source_path": f"{ANSWERS}/[type=url]/url"},
            {"field": "lead_source", "source_path": "form_response/hidden/utm_source"},
            {"field": "created_date", "source_path": "form_response/submitted_at"},
        ],
        "setup": [
            "In Typeform, open the form ▸ Connect ▸ Webhooks ▸ Add a webhook, and paste this webhook's URL.",
            "Edit the webhook ▸ Secret: type a long random secret, and paste the same value as this "
            "webhook's signing secret.",
            "Switch the webhook on, then View deliveries ▸ Send test request and check the request log.",
        ],
    }
]
