import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from config.celery import app as celery_app
from leads.events import lead_status_changed
from webhooks.outbound import destinations, outbox, sender

PROJECT_DIR = Path(__file__).resolve().parent.parent
USES_PRODUCTION_SERVICES = settings.DATABASE_IS_POSTGRES and settings.CELERY_BROKER_URL.startswith("redis")


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(
        reason="needs PostgreSQL and Redis: runs in the second CI pass (DATABASE_URL + CELERY_BROKER_URL)"
    )
    if not USES_PRODUCTION_SERVICES:
        for item in items:
            if "production_services" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def empty_broker():
    """Start every run with an empty queue, whatever a previous run left behind."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        queue = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        shutil.rmtree(queue, ignore_errors=True)
        queue.mkdir(parents=True)
    else:
        celery_app.control.purge()
    cache.delete(outbox.DOORBELL_WAITING_KEY)  # no doorbell waits in an empty queue


@pytest.fixture(autouse=True)
def loopback_only_resolver(monkeypatch):
    """The app's outbound resolver (the process edge every webhook address goes through) never
    asks DNS in a test: numeric addresses and `localhost` resolve as usual, any other name is
    unresolvable. So no test makes the app look up or connect to anything off this machine;
    tests that need a name use `stub_dns` (tests/outbound/conftest.py), which replaces this."""
    real_resolve = destinations.resolve_addresses

    def numeric(host):  # what the C resolver reads without DNS (2130706433, 0x7f.1, ::1 …)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            try:
                socket.inet_aton(host)
            except OSError:
                return False
        return True

    def resolve(host, port):
        if not numeric(host) and host != "localhost":
            raise OSError(f"tests resolve no external name ({host})")
        return real_resolve(host, port)

    monkeypatch.setattr(destinations, "resolve_addresses", resolve)


@pytest.fixture(autouse=True)
def sender_found_nothing_forgotten(monkeypatch):
    """A claim that found nothing in one test never makes another test's doorbell end early."""
    monkeypatch.setitem(sender._found_nothing, "at", float("-inf"))


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Test users' passwords guard nothing: PBKDF2's 1M rounds (0.5 s a user) only slow the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def published():
    """Status events, collected after commit as a real subscriber (outbound webhooks) acts."""
    seen = []

    def receiver(sender, event, **kwargs):
        transaction.on_commit(lambda: seen.append(event))

    lead_status_changed.connect(receiver)
    yield seen
    lead_status_changed.disconnect(receiver)


def database_url_for_subprocess():
    """The URL of the database the tests use now (the test database, not the dev one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def subprocess_env(**extra):
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url_for_subprocess(),
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        LEADENGINE_DATA_DIR=str(settings.DATA_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update({key: str(value) for key, value in extra.items()})
    return env


class WorkerProcess:
    """A real `celery worker` process, on the test database and the configured broker."""

    def __init__(self, tmp_path, concurrency=1, **env):
        self.log_path = tmp_path / "worker.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(concurrency),
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=PROJECT_DIR,
            env=subprocess_env(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.log_path.read_text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"worker did not start:\n{self.log_path.read_text()[-3000:]}")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def start_worker(tmp_path):
    """Start real worker processes; each is stopped at the end of the test."""
    workers = []

    def start(**kwargs):
        (tmp_path / f"w{len(workers)}").mkdir()
        worker = WorkerProcess(tmp_path / f"w{len(workers)}", **kwargs)
        workers.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(predicate, timeout=30, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def stub_dns(monkeypatch):
    """Replace the system resolver (the process edge) with a table: name -> answers.

    A list of lists answers each lookup with the next entry (DNS rebinding)."""
    table = {}
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        answers = table.get(host)
        if answers is None:
            raise OSError(f"stub resolver: no such host {host}")
        if answers and isinstance(answers[0], list):
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return answers

    monkeypatch.setattr(destinations, "resolve_addresses", resolve)
    table["lookups"] = lookups
    return table
