"""django-webhook's documented set-up (README), on the database and broker the bench gives."""

import os

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_webhook", "peerleads"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PEER_DB", "le_bench_peer"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": 5432,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DJANGO_WEBHOOK = {"MODELS": ["peerleads.Lead"], "USE_CACHE": False}
CELERY_BROKER_URL = os.environ.get("PEER_BROKER_URL", "redis://127.0.0.1:6379/9")
CELERY_TASK_IGNORE_RESULT = True
