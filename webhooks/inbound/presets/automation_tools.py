# ruff: noqa: E501 — data: setup sentences and notes read better unbroken
"""Zapier, Make and n8n: generic JSON you build yourself, with the help article's flat keys
and a Bearer API key (each can set headers)."""

ROWS = [
    {"field": "business_email", "source_path": "email"},
    {"field": "first_name", "source_path": "first_name"},
    {"field": "last_name", "source_path": "last_name"},
    {"field": "name", "source_path": "name"},
    {"field": "mobile_phone", "source_path": "phone"},
    {"field": "company_name", "source_path": "company"},
    {"field": "job_title", "source_path": "job_title"},
    {"field": "website", "source_path": "website"},
    {"field": "city", "source_path": "city"},
    {"field": "state", "source_path": "state"},
    {"field": "country", "source_path": "country"},
    {"field": "created_date", "source_path": "date"},
]
KEYS = "email, first_name, last_name, name, phone, company, job_title, website, city, state, country, date"
BEARER = "Authorization: Bearer <API key with the Receive scope>"


def _preset(key, vendor, setup):
    return {
        "key": key,
        "vendor": vendor,
        "name": f"{vendor} (generic JSON)",
        "auth_mode": "bearer",
        "content_type": "application/json",
        "rows": ROWS,
        "setup": setup,
    }


PRESETS = [
    _preset(
        "zapier",
        "Zapier",
        [
            "Add the action Webhooks by Zapier ▸ POST: URL = this webhook's URL, Payload Type json.",
            f"Data: one line per key ({KEYS}); Headers: {BEARER}.",
            "Test step, then check the request log.",
        ],
    ),
    _preset(
        "make",
        "Make",
        [
            "Add the module HTTP ▸ Make a request: URL = this webhook's URL, Method POST, Body type Raw, "
            "Content type JSON (application/json).",
            f"Request content: a JSON object with the keys {KEYS}; Headers: {BEARER}.",
            "Run once, then check the request log.",
        ],
    ),
    _preset(
        "n8n",
        "n8n",
        [
            "Add an HTTP Request node: Method POST, URL = this webhook's URL, Send Body on, Body Content "
            "Type JSON.",
            f"Body fields: {KEYS}; Authentication: Generic Credential Type ▸ Header Auth, name Authorization, "
            "value Bearer <API key with the Receive scope>.",
            "Execute node, then check the request log.",
        ],
    ),
]
