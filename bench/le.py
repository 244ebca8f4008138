"""LeadEngine inside a benchmark process: Django set up on the bench database, fixtures, workers.

Import this module first in a benchmark script: it points the process at the production
configuration of `harness.BENCH_ENV` (PostgreSQL `le_bench`, Redis dbs 7/8) and sets Django up.
"""

import os
import shlex
import signal
import sys
import time
from pathlib import Path

from harness import BENCH_DIR, BENCH_ENV, PROJECT_DIR, PYTHON, ensure_database, env_with, start, stop

os.environ.update(BENCH_ENV)
sys.path.insert(0, str(PROJECT_DIR))

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from leadengine.collector import loaded_objects_freeze  # noqa: E402
from leadengine.models import Workspace  # noqa: E402
from leads.models import Lead  # noqa: E402
from webhooks.outbound.models import Delivery, OutboundWebhook  # noqa: E402

WORKSPACE_SLUG = "bench"
# A benchmark process runs the app's code as a gunicorn or Celery worker would: with what is
# loaded frozen out of the garbage collector's walks, as config/wsgi.py and config/celery.py do.
loaded_objects_freeze()


def database_prepare():
    """Create (when missing) and migrate the bench database quietly; empty the broker's Redis db."""
    ensure_database(settings.DATABASES["default"]["NAME"])
    call_command("migrate", verbosity=0)
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


def workspace_reset():
    """An empty bench workspace (its leads, webhooks and deliveries deleted)."""
    Workspace.objects.filter(slug=WORKSPACE_SLUG).delete()
    with connection.cursor() as cursor:
        # Deliveries of deleted webhooks cascade; attempts of old runs too. Keep tables small.
        cursor.execute("TRUNCATE outbound_deliveryattempt, outbound_delivery RESTART IDENTITY CASCADE")
    tables_analyze()
    return Workspace.objects.create(name="Bench Workspace", slug=WORKSPACE_SLUG)


def tables_analyze():
    """ANALYZE the lead tables, as autovacuum would have in production: after the bench's
    mass deletes and inserts the planner's statistics are stale, and with "no rows" it scans
    the primary key for `… ORDER BY id FOR UPDATE` lookups instead of the unique index
    (profiled: 26 ms instead of 0.06 ms per lookup at 48,000 leads)."""
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE leads_lead, leads_lead_campaigns, leads_lead_lists, inbound_inboundrequest")


def leads_create(workspace, count, prefix="lead"):
    leads = [
        Lead(
            workspace=workspace,
            first_name="Ada",
            last_name=f"Lovelace {index}",
            business_email=f"{prefix}{index}@example.com",
            company_name="Analytical Engines",
            city="London",
        )
        for index in range(count)
    ]
    Lead.objects.bulk_create(leads, batch_size=2000)
    return list(Lead.objects.filter(workspace=workspace).order_by("pk"))


def webhooks_create(workspace, url, count=1):
    return [
        OutboundWebhook.objects.create(workspace=workspace, name=f"Bench hook {index}", url=url)
        for index in range(count)
    ]


def idle_webhooks_create(count):
    """`count` webhooks of another workspace with nothing to send (other tenants of a SaaS);
    the ones of earlier runs are deleted first."""
    Workspace.objects.filter(slug="bench-idle").delete()
    if count:
        workspace = Workspace.objects.create(name="Idle tenants", slug="bench-idle")
        OutboundWebhook.objects.bulk_create(
            [
                OutboundWebhook(workspace=workspace, name=f"Idle {n}", url="https://idle.example.com/hook")
                for n in range(count)
            ],
            batch_size=1000,
        )
    with connection.cursor() as cursor:  # as autovacuum would have, after that many rows
        cursor.execute("ANALYZE outbound_outboundwebhook")


def deliveries_done():
    return Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count()


class Worker:
    """A real `celery worker` process on the bench configuration."""

    def __init__(self, name="worker", pool="solo", concurrency=1, **env):
        args = [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "WARNING", "-n", f"{name}@%h"]
        args += ["--pool", pool] if pool == "solo" else ["--pool", pool, "-c", str(concurrency)]
        args += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.log = BENCH_DIR / f"{name}.log"
        self.process = start(args, env=env_with(**env), log=self.log)
        self.pid = self.process.pid

    def wait_ready(self, timeout=60):
        """Ready when a ping task round-trips through it."""
        from config.celery import ping

        deadline = time.monotonic() + timeout
        marker = BENCH_DIR / f".ready-{self.pid}"
        marker.unlink(missing_ok=True)
        ping.delay(str(marker))
        while time.monotonic() < deadline:
            if marker.exists():
                marker.unlink()
                return self
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited, see {self.log}")
            time.sleep(0.05)
        raise RuntimeError(f"worker not ready after {timeout}s, see {self.log}")

    def rss_kib(self):
        """Resident set size of the worker (solo pool: the process that sends)."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        stop(self.process)


def procfile_command(process_type):
    """The Procfile's line for `process_type` (`worker`, `beat`), run with this venv's celery."""
    for line in (PROJECT_DIR / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process_type:
            args = shlex.split(command)
            if args[0] == "celery":
                args[0] = str(Path(PYTHON).parent / "celery")
            return args
    raise RuntimeError(f"no {process_type!r} line in the Procfile")


class ProcfileWorker(Worker):
    """`celery -A config worker --loglevel INFO` exactly as the Procfile starts it: the default
    prefork pool, one child per core, each child sending with WEBHOOK_SENDER_CONCURRENCY threads."""

    def __init__(self, name="worker", **env):
        self.log = BENCH_DIR / f"{name}.log"
        self.process = start(procfile_command("worker"), env=env_with(**env), log=self.log)
        self.pid = self.process.pid
        self.started = time.time()

    def kill(self):
        """SIGKILL the whole process group (main process and prefork children) at once."""
        stop(self.process, signal.SIGKILL)


class ProcfileBeat:
    """`celery -A config beat --loglevel INFO` as the Procfile starts it (the sweeper's clock)."""

    def __init__(self, name="beat", **env):
        schedule = Path(BENCH_ENV["LEADENGINE_DATA_DIR"]) / "celerybeat-schedule"
        for leftover in schedule.parent.glob(schedule.name + "*"):
            leftover.unlink()  # a fresh schedule: the sweeper runs at start, then every interval
        self.log = BENCH_DIR / f"{name}.log"
        self.process = start(procfile_command("beat"), env=env_with(**env), log=self.log)

    def stop(self):
        stop(self.process)


def workspaces_reset(prefix, count):
    """`count` empty workspaces `prefix-0`… (old bench workspaces and every delivery deleted)."""
    Workspace.objects.filter(slug__startswith=WORKSPACE_SLUG).delete()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE outbound_deliveryattempt, outbound_delivery RESTART IDENTITY CASCADE")
    return [
        Workspace.objects.create(name=f"Bench {prefix} {index}", slug=f"{WORKSPACE_SLUG}-{prefix}-{index}")
        for index in range(count)
    ]
