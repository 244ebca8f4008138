"""Leads keep flowing and every answer is JSON while the cache's Redis or the database's
connections fail: throttles and rate limits fail open, a lost database connection is a
retryable JSON 503, and no lead that got a 2xx is lost.

The Redis here is the test's own `redis-server` (never the shared one), killed and frozen
with SIGKILL / SIGSTOP; PostgreSQL connections are killed with `pg_terminate_backend`."""

import itertools
import logging
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests
from django.core.cache import caches
from django.db import connection, connections

from leadengine.api.throttling import CACHE_DOWN_MESSAGE
from leadengine.cache import default_cache_redis
from leadengine.models import all_scopes
from leadengine.services import api_key_create
from leads.models import Lead
from tests.factories import InboundWebhookFactory, WorkspaceFactory
from webhooks.inbound.models import FieldMapping
from webhooks.inbound.receive import RATE_LIMIT_CACHE_DOWN_MESSAGE

SHORT_TIMEOUTS = {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_cache(port):
    return {
        "default": {
            "BACKEND": "leadengine.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": SHORT_TIMEOUTS,
        }
    }


class RedisServer:
    """The test's own redis-server on a spare port, to kill, freeze and restart."""

    def __init__(self):
        self.port = free_port()
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def freeze(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.thaw()
            self.kill()


@pytest.fixture
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.CACHES = redis_cache(server.port)
    yield server
    server.stop()


@pytest.fixture
def dead_cache(settings):
    """A cache whose Redis is not running (nothing listens on the port)."""
    settings.CACHES = redis_cache(free_port())


def inbound_webhook(workspace):
    webhook = InboundWebhookFactory(workspace=workspace, name="Form")
    FieldMapping.objects.create(webhook=webhook, field="business_email", source_path="email")
    return webhook


@pytest.mark.django_db
def test_with_the_cache_down_api_lead_creations_are_let_through_unthrottled_and_logged(
    client, dead_cache, caplog
):
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="crm", scopes=all_scopes())
    caplog.set_level(logging.WARNING)

    response = client.post(
        "/api/v1/leads/",
        {"workspace": workspace.pk, "business_email": "ada@example.com"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code == 201, response.content
    assert Lead.objects.filter(business_email="ada@example.com").exists()
    assert CACHE_DOWN_MESSAGE in caplog.messages


@pytest.fixture
def frozen_cache(own_redis):
    """A cache whose Redis accepts connections and never answers (SIGSTOP)."""
    own_redis.freeze()
    return own_redis


@pytest.mark.django_db
@pytest.mark.parametrize(
    "outage", ["dead_cache", pytest.param("frozen_cache", marks=pytest.mark.production_services)]
)
def test_with_the_cache_down_inbound_leads_are_accepted_and_the_rate_limit_is_logged_as_skipped(
    client, caplog, request, outage
):
    request.getfixturevalue(outage)
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="form")
    webhook = inbound_webhook(workspace)
    caplog.set_level(logging.WARNING)

    response = client.post(
        f"/webhooks/{webhook.public_id}",
        {"email": "grace@example.com"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )

    assert response.status_code == 201, response.content
    assert Lead.objects.filter(business_email="grace@example.com").exists()
    assert RATE_LIMIT_CACHE_DOWN_MESSAGE in caplog.messages


@pytest.mark.production_services
def test_the_rate_limit_counts_through_the_caches_one_client_and_its_timeouts(own_redis):
    """A frozen Redis then costs the cache's socket timeout: the rate limit's own client had
    none and held a post for seconds."""
    backend = caches["default"]
    backend.set("greeting", "hello")

    assert backend.get("greeting") == "hello"
    assert default_cache_redis() is backend.redis() is backend.redis()
    pool_settings = backend.redis().connection_pool.connection_kwargs
    assert pool_settings["socket_timeout"] == pool_settings["socket_connect_timeout"] == 0.2


class Load:
    """Inbound posts and API lead creations from several threads, each with a new email;
    every answer kept for the assertions."""

    def __init__(self, base_url, webhook, secret, workspace):
        self.inbound_url = f"{base_url}/webhooks/{webhook.public_id}"
        self.api_url = f"{base_url}/api/v1/leads/"
        self.headers = {"Authorization": f"Bearer {secret}"}
        self.workspace_id = workspace.pk
        self.answers = []  # (email, response)
        self.numbers = itertools.count()
        self.running = True
        self.failures = []

    def send(self, via_api):
        email = f"lead{next(self.numbers)}@example.com"
        if via_api:
            body = {"workspace": self.workspace_id, "business_email": email}
            response = requests.post(self.api_url, json=body, headers=self.headers, timeout=30)
        else:
            response = requests.post(
                self.inbound_url, json={"email": email}, headers=self.headers, timeout=30
            )
        self.answers.append((email, response))

    def run(self, threads, api=True):
        def loop(n):
            while self.running:
                try:
                    self.send(via_api=api and n % 2 == 1)
                except requests.ConnectionError:
                    time.sleep(0.05)  # the live server's listen backlog; not an answer
                except Exception as exc:
                    self.failures.append(exc)

        self.threads = [threading.Thread(target=loop, args=(n,)) for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join()
        assert not self.failures, self.failures

    def assert_json_and_nothing_lost(self):
        assert self.answers
        for _email, response in self.answers:
            assert response.headers["Content-Type"] == "application/json", (
                response.status_code,
                response.text[:300],
            )
            body = response.json()
            if response.status_code >= 300:
                reason = body.get("detail") or body.get("error", {}).get("message")
                assert reason, body
        accepted = {email for email, response in self.answers if 200 <= response.status_code < 300}
        saved = set(Lead.objects.filter(business_email__in=accepted).values_list("business_email", flat=True))
        assert accepted - saved == set()
        return accepted

    def figures(self):
        """Answers by status code and reason."""
        codes = {}
        for _email, response in self.answers:
            body = response.json()
            reason = (
                body.get("code") or body.get("error", {}).get("code") if response.status_code >= 300 else ""
            )
            key = f"{response.status_code} {reason}".strip()
            codes[key] = codes.get(key, 0) + 1
        return codes


def wait_for_answers(load, count):
    deadline = time.monotonic() + 60
    start = len(load.answers)
    while len(load.answers) < start + count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def load(live_server, transactional_db, monkeypatch):
    # The live server starts a thread per request; a connection kept for reuse (CONN_MAX_AGE)
    # would stay open after its thread ends, and PostgreSQL runs out of connections. gunicorn
    # reuses its threads, so this is the test server's limit, not the app's.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    workspace = WorkspaceFactory()
    _key, secret = api_key_create(workspace=workspace, name="load", scopes=all_scopes())
    return Load(live_server.url, inbound_webhook(workspace), secret, workspace)


@pytest.mark.production_services
def test_killing_and_freezing_the_cache_redis_under_load_loses_no_lead_and_answers_only_json(own_redis, load):
    load.run(threads=4)
    wait_for_answers(load, 20)
    own_redis.kill()  # SIGKILL: connections refused
    wait_for_answers(load, 40)
    own_redis.start()
    wait_for_answers(load, 20)
    own_redis.freeze()  # SIGSTOP: connections accepted, never answered
    wait_for_answers(load, 20)
    own_redis.thaw()
    wait_for_answers(load, 20)
    load.stop()

    accepted = load.assert_json_and_nothing_lost()
    slowest = max(response.elapsed.total_seconds() for _email, response in load.answers)
    print(
        f"cache outage: {len(load.answers)} answers {load.figures()}, {len(accepted)} leads saved, "
        f"slowest answer {slowest * 1000:.0f} ms"
    )
    assert len(accepted) == len(load.answers)  # the cache is never a reason to refuse a lead


def terminate_app_connections():
    """Kill every other session on the test database (the live server's), as a failover would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.production_services
def test_killing_the_databases_connections_under_inbound_load_answers_json_and_loses_no_accepted_lead(load):
    load.run(threads=4, api=True)
    killed = 0
    for _ in range(15):
        wait_for_answers(load, 5)
        killed += terminate_app_connections()
    load.stop()

    accepted = load.assert_json_and_nothing_lost()
    refused = [response for _email, response in load.answers if response.status_code >= 300]
    print(
        f"database kills: {killed} connections killed, {len(load.answers)} answers {load.figures()}, "
        f"{len(accepted)} leads saved"
    )
    assert all(response.status_code == 503 and response.headers.get("Retry-After") for response in refused), [
        (response.status_code, response.text[:200]) for response in refused
    ]
