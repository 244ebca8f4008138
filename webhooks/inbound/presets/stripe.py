"""Stripe: event webhooks (customer.created, checkout.session.completed), signed with the
endpoint's whsec_ secret (Stripe-Signature: t=…,v1=…)."""

CUSTOMER = "data/object"
CHECKOUT = "data/object/customer_details"
SETUP_SECRET = "Reveal the endpoint's Signing secret (whsec_…) and paste it as this webhook's signing secret."

PRESETS = [
    {
        "key": "stripe_customer",
        "vendor": "Stripe",
        "name": "Stripe customer created",
        "auth_mode": "stripe",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{CUSTOMER}/email"},
            {"field": "name", "source_path": f"{CUSTOMER}/name", "transforms": [{"name": "split_name"}]},
            {
                "field": "mobile_phone",
                "source_path": f"{CUSTOMER}/phone",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "street_address", "source_path": f"{CUSTOMER}/address/line1"},
            {"field": "city", "source_path": f"{CUSTOMER}/address/city"},
            {"field": "state", "source_path": f"{CUSTOMER}/address/state"},
            {"field": "postal_code", "source_path": f"{CUSTOMER}/address/postal_code"},
            {"field": "country", "source_path": f"{CUSTOMER}/address/country", "note": "ISO code (US)."},
        ],
        "setup": [
            "Stripe Dashboard ▸ Developers ▸ Webhooks ▸ Add endpoint: Endpoint URL = this webhook's URL; "
            "events customer.created (and customer.updated to keep leads current).",
            SETUP_SECRET,
            "Send a test event (or stripe trigger customer.created) and check the request log.",
        ],
    },
    {
        "key": "stripe_checkout",
        "vendor": "Stripe",
        "name": "Stripe checkout completed",
        "auth_mode": "stripe",
        "content_type": "application/json",
        "rows": [
            {"field": "business_email", "source_path": f"{CHECKOUT}/email"},
            {"field": "name", "source_path": f"{CHECKOUT}/name", "transforms": [{"name": "split_name"}]},
            {
                "field": "mobile_phone",
                "source_path": f"{CHECKOUT}/phone",
                "transforms": [{"name": "phone_e164"}],
            },
            {"field": "street_address", "source_path": f"{CHECKOUT}/address/line1"},
            {"field": "city", "source_path": f"{CHECKOUT}/address/city"},
            {"field": "state", "source_path": f"{CHECKOUT}/address/state"},
            {"field": "postal_code", "source_path": f"{CHECKOUT}/address/postal_code"},
            {"field": "country", "source_path": f"{CHECKOUT}/address/country"},
        ],
        "setup": [
            "Stripe Dashboard ▸ Developers ▸ Webhooks ▸ Add endpoint: Endpoint URL = this webhook's URL; "
            "event checkout.session.completed.",
            SETUP_SECRET,
            "Complete a test-mode checkout and check the request log.",
        ],
    },
]
