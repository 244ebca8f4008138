"""Shopify: store webhooks (customers/create, orders/create) in JSON, signed with the key
shown under Settings ▸ Notifications ▸ Webhooks (X-Shopify-Hmac-Sha256)."""

SETUP_KEY = (
    "Below the list, Shopify shows “Your webhooks will be signed with …”: paste that key as this "
    "webhook's signing secret (apps: the app's client secret)."
)

PRESETS = [
    {
        "key": "shopify_customer",
        "vendor": "Shopify",
        "name": "Shopify customer created",
        "auth_mode": "shopify",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": "email"},
            {"field": "first_name", "source_path": "first_name"},
            {"field": "last_name", "source_path": "last_name"},
            {"field": "mobile_phone", "source_path": "phone"},
            {"field": "company_name", "source_path": "default_address/company"},
            {"field": "city", "source_path": "default_address/city"},
            {"field": "state", "source_path": "default_address/province"},
            {"field": "country", "source_path": "default_address/country"},
            {"field": "postal_code", "source_path": "default_address/zip"},
            {
                "field": "tags",
                "source_path": "tags",
                "note": "One text, tags joined by ', '.",
                "transforms": [{"name": "split", "delimiter": ","}],
            },
            {"field": "created_date", "source_path": "created_at"},
        ],
        "setup": [
            "Shopify admin ▸ Settings ▸ Notifications ▸ Webhooks ▸ Create webhook: Event Customer creation, "
            "Format JSON, URL = this webhook's URL.",
            SETUP_KEY,
            "Send test, then check the request log.",
        ],
    },
    {
        "key": "shopify_order",
        "vendor": "Shopify",
        "name": "Shopify order created (the buyer)",
        "auth_mode": "shopify",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": "email"},
            {"field": "first_name", "source_path": "customer/first_name"},
            {"field": "last_name", "source_path": "customer/last_name"},
            {"field": "mobile_phone", "source_path": "billing_address/phone"},
            {"field": "company_name", "source_path": "billing_address/company"},
            {"field": "street_address", "source_path": "billing_address/address1"},
            {"field": "city", "source_path": "billing_address/city"},
            {"field": "state", "source_path": "billing_address/province"},
            {"field": "country", "source_path": "billing_address/country"},
            {"field": "postal_code", "source_path": "billing_address/zip"},
        ],
        "setup": [
            "Shopify admin ▸ Settings ▸ Notifications ▸ Webhooks ▸ Create webhook: Event Order creation, "
            "Format JSON, URL = this webhook's URL.",
            SETUP_KEY,
            "Send test, then check the request log.",
        ],
    },
]
