"""Google Ads lead form assets: the webhook integration posts each lead as JSON with the key
you typed in the form's settings in the body (`google_key`)."""

COLUMNS = "user_column_data"


def _column(column_id):
    return f"{COLUMNS}/[column_id={column_id}]/string_value"


PRESETS = [
    {
        "key": "google_ads_lead_form",
        "vendor": "Google Ads",
        "name": "Google Ads lead form",
        "auth_mode": "body_key",
        "auth_settings": {"body_key_field": "google_key"},
        "content_type": "application/json",
        "rows": [
            {
                "field": "business_email",
                "source_path": _column("EMAIL"),
                "note": "Forms asking a work email send WORK_EMAIL instead: "
                f"{_column('WORK_EMAIL')} (a fallback path once alternatives are supported).",
            },
            {"field": "name", "source_path": _column("FULL_NAME"), "transforms": [{"name": "split_name"}]},
            {"field": "first_name", "source_path": _column("FIRST_NAME")},
            {"field": "last_name", "source_path": _column("LAST_NAME")},
            {
                "field": "mobile_phone",
                "source_path": _column("PHONE_NUMBER"),
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "company_name", "source_path": _column("COMPANY_NAME")},
            {"field": "job_title", "source_path": _column("JOB_TITLE")},
            {"field": "city", "source_path": _column("CITY")},
            {"field": "state", "source_path": _column("REGION")},
            {"field": "country", "source_path": _column("COUNTRY")},
            {"field": "postal_code", "source_path": _column("POSTAL_CODE")},
        ],
        "setup": [
            "Google Ads ▸ Assets ▸ Lead forms ▸ your form ▸ Export leads from Google Ads ▸ Webhook "
            "integration: Webhook URL = this webhook's URL.",
            "Key: type a long random key there and paste the same value as this webhook's signing "
            "secret (Google sends it in the body as google_key).",
            "Send test data, then check the request log (test leads have is_test: true).",
        ],
    }
]
