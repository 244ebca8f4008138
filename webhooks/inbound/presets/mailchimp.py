# ruff: noqa: E501 — data: setup sentences and notes read better unbroken
"""Mailchimp: audience webhooks, form-encoded (`data[merges][FNAME]`), given only a URL, which
Mailchimp checks with a GET before saving it."""

PRESETS = [
    {
        "key": "mailchimp_subscribe",
        "vendor": "Mailchimp",
        "name": "Mailchimp subscribe",
        "auth_mode": "url_token",
        "content_type": "application/x-www-form-urlencoded",
        "rows": [
            {"field": "business_email", "source_path": "data/email"},
            {"field": "first_name", "source_path": "data/merges/FNAME"},
            {"field": "last_name", "source_path": "data/merges/LNAME"},
            {
                "field": "mobile_phone",
                "source_path": "data/merges/PHONE",
                "transforms": [{"name": "phone_e164"}],
            },
            {
                "field": "company_name",
                "source_path": "data/merges/COMPANY",
                "note": "Merge tags are your audience's (Audience ▸ Settings ▸ Audience fields and *|MERGE|* tags).",
            },
        ],
        "setup": [
            "Mailchimp ▸ Audience ▸ All contacts ▸ Settings ▸ Webhooks ▸ Create New Webhook: Callback URL = "
            "this webhook's URL with its token (Reveal it under Credentials).",
            "Tick subscribes (and, if wanted, profile updates); Mailchimp checks the URL with a GET, "
            "answered 200 here.",
            "Subscribe a test address, then check the request log.",
        ],
    }
]
