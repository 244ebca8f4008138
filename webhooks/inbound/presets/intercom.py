"""Intercom: Developer Hub webhook topics for contacts, signed with the app's client secret
(X-Hub-Signature: sha1=…)."""

ITEM = "data/item"

PRESETS = [
    {
        "key": "intercom",
        "vendor": "Intercom",
        "name": "Intercom (contact created)",
        "auth_mode": "intercom",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{ITEM}/email"},
            {"field": "name", "source_path": f"{ITEM}/name", "transforms": [{"name": "split_name"}]},
            {"field": "mobile_phone", "source_path": f"{ITEM}/phone", "transforms": [{"name": "phone_e164"}]},
            {"field": "city", "source_path": f"{ITEM}/location/city"},
            {"field": "state", "source_path": f"{ITEM}/location/region"},
            {"field": "country", "source_path": f"{ITEM}/location/country"},
            {"field": "lead_source", "source_path": f"{ITEM}/utm_source"},
        ],
        "setup": [
            "Intercom Developer Hub ▸ your app ▸ Webhooks: Endpoint URL = this webhook's URL; topics "
            "contact.lead.created and/or contact.user.created.",
            "Basic information ▸ Client secret is this webhook's signing secret.",
            "Send test request (a ping, which has no contact: expect a 422 in the log), then create a lead.",
        ],
    }
]
