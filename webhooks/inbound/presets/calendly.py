"""Calendly: `invitee.created` webhook subscriptions (API v2), signed with the subscription's
signing key (Calendly-Webhook-Signature: t=…,v1=…)."""

PRESETS = [
    {
        "key": "calendly",
        "vendor": "Calendly",
        "name": "Calendly (invitee created)",
        "auth_mode": "calendly",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": "payload/email"},
            {
                "field": "first_name",
                "source_path": "payload/first_name",
                "note": "Empty unless the event type asks first and last name.",
            },
            {"field": "last_name", "source_path": "payload/last_name"},
            {"field": "name", "source_path": "payload/name", "transforms": [{"name": "split_name"}]},
            {
                "field": "mobile_phone",
                "source_path": "payload/text_reminder_number",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "time_zone", "source_path": "payload/timezone"},
            {"field": "lead_source", "source_path": "payload/tracking/utm_source"},
            {
                "field": "company_name",
                "source_path": "payload/questions_and_answers/[question=Company name]/answer",
                "note": "Your event type's own question text goes after question=.",
            },
            {"field": "created_date", "source_path": "payload/created_at"},
        ],
        "setup": [
            "Calendly webhooks are created through its API (paid plans): POST "
            "https://api.calendly.com/webhook_subscriptions with url = this webhook's URL, "
            'events = ["invitee.created"], organization, scope and signing_key.',
            "Paste the same signing_key as this webhook's signing secret (OAuth apps: the app's "
            "webhook signing key).",
            "Book a test meeting and check the request log.",
        ],
    }
]
