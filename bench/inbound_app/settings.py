"""Production settings plus a bench-only URL (the bare DRF reference view). Never deployed."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "inbound_app.urls"
