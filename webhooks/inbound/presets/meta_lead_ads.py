# ruff: noqa: E501 — data: setup sentences and notes read better unbroken
"""Meta Lead Ads: a lead as the Graph API returns it (`field_data`), at a callback Meta
verifies with hub.verify_token and signs with the app secret (X-Hub-Signature-256)."""

FIELDS = "field_data"

PRESETS = [
    {
        "key": "meta_lead_ads",
        "vendor": "Meta",
        "name": "Meta Lead Ads (Facebook / Instagram lead forms)",
        "auth_mode": "meta",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{FIELDS}/[name=email]/values/0"},
            {
                "field": "name",
                "source_path": f"{FIELDS}/[name=full_name]/values/0",
                "transforms": [{"name": "split_name"}],
            },
            {"field": "first_name", "source_path": f"{FIELDS}/[name=first_name]/values/0"},
            {"field": "last_name", "source_path": f"{FIELDS}/[name=last_name]/values/0"},
            {
                "field": "mobile_phone",
                "source_path": f"{FIELDS}/[name=phone_number]/values/0",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "company_name", "source_path": f"{FIELDS}/[name=company_name]/values/0"},
            {"field": "job_title", "source_path": f"{FIELDS}/[name=job_title]/values/0"},
            {"field": "city", "source_path": f"{FIELDS}/[name=city]/values/0"},
            {"field": "country", "source_path": f"{FIELDS}/[name=country]/values/0"},
            {"field": "created_date", "source_path": "created_time"},
        ],
        "setup": [
            "Meta App Dashboard ▸ your app ▸ Webhooks ▸ Page ▸ Subscribe to this object: Callback URL = "
            "this webhook's URL, Verify token = this webhook's Meta verify token (Meta checks it with a GET).",
            "Subscribe to the leadgen field. App settings ▸ Basic ▸ App secret is this webhook's signing secret.",
            "Meta's own notification carries only leadgen_id: the answers (field_data) come from GET "
            "/{leadgen_id} on the Graph API. Post that lead here (your server, or Zapier/Make in Bearer "
            "mode) — the mapping reads field_data by question name.",
        ],
        "notes": "Standard question names: email, full_name, first_name, last_name, phone_number, "
        "company_name, job_title, city, country; custom questions use the name you gave them.",
    }
]
