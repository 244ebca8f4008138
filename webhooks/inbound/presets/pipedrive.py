"""Pipedrive: webhooks v2 for persons, with HTTP Basic auth (the only credential it can send)."""

PRESETS = [
    {
        "key": "pipedrive_person",
        "vendor": "Pipedrive",
        "name": "Pipedrive person added",
        "auth_mode": "basic",
        "content_type": "application/json",
        "rows": [
            {
                "field": "business_email",
                "source_path": "data/emails/0/value",
                "note": "The first email; [primary=True] picks the primary one.",
            },
            {"field": "first_name", "source_path": "data/first_name"},
            {"field": "last_name", "source_path": "data/last_name"},
            {"field": "name", "source_path": "data/name"},
            {
                "field": "mobile_phone",
                "source_path": "data/phones/0/value",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "created_date", "source_path": "data/add_time"},
        ],
        "setup": [
            "Pipedrive ▸ Tools and apps ▸ Webhooks ▸ Create new webhook: Event action create, Event object "
            "person, Endpoint URL = this webhook's URL.",
            "HTTP Auth: any username; password = an API key of this workspace with the Receive scope.",
            "Add a person, then check the request log.",
        ],
    }
]
