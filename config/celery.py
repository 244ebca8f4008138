"""The Celery app: configured from Django settings (CELERY_* names)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready

from leadengine.collector import loaded_objects_freeze

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("leadengine")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect  # a prefork child, where the tasks run
@worker_ready.connect  # the main process (where a solo or threads pool runs the tasks)
def freeze_the_loaded_app(**kwargs):
    loaded_objects_freeze()


@task_prerun.connect
@task_postrun.connect
def close_old_db_connections(**kwargs):
    """Treat a task like a web request: reuse the DB connection until CONN_MAX_AGE or an error.

    Celery's Django fixup otherwise closes it before and after EVERY task (settings set
    CELERY_DB_REUSE_MAX to turn that off): a new PostgreSQL connection per delivery task
    was ~20% of the worker's time under py-spy (docs/benchmarks.md).
    """
    from django.db import close_old_connections

    close_old_connections()


@app.task(name="leadengine.ping")
def ping(path=None):
    """A no-op used to prove a worker consumes tasks (and as the benchmark round trip)."""
    if path:
        with open(path, "w") as marker:
            marker.write("pong")
    return "pong"
