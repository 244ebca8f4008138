"""The Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("leadengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="leadengine.ping")
def ping(path=None):
    """A no-op used to prove a worker consumes tasks (and as the benchmark round trip)."""
    if path:
        with open(path, "w") as marker:
            marker.write("pong")
    return "pong"
