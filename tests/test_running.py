"""The two commands' promises: settings fail loudly, a real worker consumes tasks, the
demo seeds twice safely, and production checks are clean."""

import socket
import subprocess
import sys

import pytest
import requests
from django.core.management import call_command
from django.db import connection, migrations
from django.db.migrations.loader import MigrationLoader

from config.celery import ping
from leadengine.migration_operations import (
    AddIndexConcurrentlyOnPostgreSQL,
    RemoveIndexConcurrentlyOnPostgreSQL,
)
from leadengine.models import Workspace
from leads.demo import seed_demo
from leads.models import Lead
from tests.conftest import PROJECT_DIR, subprocess_env, wait_until


def run_manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "variable,value",
    [
        ("DJANGO_DEBUG", "maybe"),
        ("WEBHOOK_TIMEOUT_SECONDS", "ten"),
        ("INBOUND_RATE_LIMIT_PER_MINUTE", "0"),
        ("DATABASE_URL", "nosuchdb://x"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_the_variable(variable, value):
    result = run_manage("check", **{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


def test_deploy_check_is_clean_with_production_settings():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 20 + "production-secret-key-0123456789abcdefghijkl",
        DJANGO_SECURE_SSL_REDIRECT="1",
        DJANGO_ALLOWED_HOSTS="leadengine.example",
    )
    assert result.returncode == 0, result.stderr + result.stdout


@pytest.mark.django_db
def test_migrations_are_in_step_with_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


OUR_APPS = ("leadengine", "leads", "inbound", "outbound")


def test_every_index_added_to_an_existing_table_is_built_without_blocking_its_writes():
    """An index added or dropped on a table that already holds rows runs CONCURRENTLY on
    PostgreSQL: a plain CREATE INDEX blocks every write to the table while it builds (on
    the deliveries table: every status change with a webhook, every send)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    plain = []
    for (app, name), migration in loader.disk_migrations.items():
        if app not in OUR_APPS:
            continue
        created_here = {
            op.name.lower() for op in migration.operations if isinstance(op, migrations.CreateModel)
        }
        for op in migration.operations:
            if not isinstance(op, migrations.AddIndex | migrations.RemoveIndex):
                continue
            if op.model_name.lower() in created_here:
                continue  # a new, empty table
            if not isinstance(op, AddIndexConcurrentlyOnPostgreSQL | RemoveIndexConcurrentlyOnPostgreSQL):
                plain.append(f"{app}.{name}: {op.describe()}")
            elif migration.atomic:
                plain.append(f"{app}.{name} is atomic: CONCURRENTLY cannot run in a transaction")
    assert plain == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="CONCURRENTLY is PostgreSQL's")
# sqlmigrate of a non-atomic migration: no test transaction may be open around it.
@pytest.mark.django_db(transaction=True)
def test_the_delivery_index_migrations_never_block_the_tables_writes_on_postgresql(capsys):
    call_command("sqlmigrate", "outbound", "0009")
    forwards = capsys.readouterr().out
    call_command("sqlmigrate", "outbound", "0009", "--backwards")
    backwards = capsys.readouterr().out

    for sql in (forwards, backwards):
        statements = [line for line in sql.splitlines() if line.strip() and not line.startswith("--")]
        assert len(statements) == 7  # 3 indexes replaced, and the webhook's own index dropped
        assert all(" INDEX CONCURRENTLY " in statement for statement in statements)
        assert "CONSTRAINT" not in sql  # the foreign key is not dropped and checked again


@pytest.mark.django_db(transaction=True)
def test_a_task_sent_through_the_broker_runs_in_a_real_worker_process(start_worker, tmp_path):
    start_worker()
    marker = tmp_path / "pong"

    ping.delay(str(marker))

    wait_until(marker.exists, timeout=30, message="the worker to run the task")
    assert marker.read_text() == "pong"


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_prints_the_password_once():
    workspace, operator, password = seed_demo(lead_count=20)
    assert password
    assert operator.check_password(password)
    assert operator.memberships.filter(workspace=workspace).exists()
    leads = Lead.objects.filter(workspace=workspace)
    assert leads.count() == 20
    assert leads.exclude(lead_status=None).exists()
    assert leads.filter(messages__isnull=False).exists()

    again = seed_demo(lead_count=20)

    assert again[2] is None
    assert Lead.objects.filter(workspace=workspace).count() == 20
    assert Workspace.objects.filter(slug="demo").count() == 1


@pytest.mark.django_db
def test_create_workspace_command(capsys):
    call_command("create_workspace", "acme", "--name", "Acme Inc")
    assert Workspace.objects.get(slug="acme").name == "Acme Inc"
    with pytest.raises(Exception, match="already exists"):
        call_command("create_workspace", "acme")


def test_gunicorn_serves_the_admin_static_files_in_production(tmp_path):
    env = subprocess_env(
        DJANGO_DEBUG="0",
        LEADENGINE_DATA_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert collect.returncode == 0, collect.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/static/admin/css/base.css"
        wait_until(lambda: _answers(url), timeout=30, message="gunicorn to serve")
        response = requests.get(url, timeout=5)
        assert response.status_code == 200
        assert "text/css" in response.headers["Content-Type"]
    finally:
        server.terminate()
        server.wait(10)


def _answers(url):
    try:
        requests.get(url, timeout=1)
    except (requests.ConnectionError, requests.Timeout):  # not listening, or its worker still booting
        return False
    return True


def test_the_inbound_url_base_follows_the_port_of_the_web_server():
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.WEBHOOKS_BASE_URL)", PORT="8010"
    )
    assert result.stdout.splitlines()[-1] == "http://127.0.0.1:8010/webhooks", result.stderr


def test_bin_run_console_is_quiet_and_its_worker_stops_cleanly_on_sigterm():
    processes = dict(
        line.split(":", 1)
        for line in (PROJECT_DIR / "Procfile.dev").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert "--quiet" in processes["receiver"] and "--quiet" in processes["receiver500"]
    for name in ("worker", "beat"):
        assert "--loglevel WARNING" in processes[name]
    # honcho SIGTERMs the process group: prefork children would die mid-task (ERROR lines)
    assert "--pool threads" in processes["worker"]


@pytest.mark.parametrize(
    "loader",
    [
        "import config.wsgi",
        # A Celery worker's task process: a prefork child, or the main process of a threads pool.
        "import django; django.setup(); from config.celery import app; from celery import signals; "
        "signals.worker_process_init.send(sender=None)",
        "import django; django.setup(); from config.celery import app; from celery import signals; "
        "signals.worker_ready.send(sender=None)",
    ],
    ids=["gunicorn", "celery-prefork-child", "celery-main"],
)
def test_a_started_process_freezes_the_loaded_app_out_of_the_garbage_collectors_walks(loader):
    """Once the app is loaded, what is alive is frozen: a full collection in a web or worker
    process no longer walks the app's own objects (docs/benchmarks.md)."""
    script = f"import gc, sys; {loader}; print(gc.get_freeze_count(), gc.isenabled())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_DIR,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    frozen, collector_on = result.stdout.split()[-2:]
    assert int(frozen) > 10_000 and collector_on == "True"
