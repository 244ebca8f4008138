"""/metrics: off unless configured, a token or an allowed address, and one sum over processes."""

import ipaddress
import os
import subprocess
import sys

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework.test import APIClient

from config.settings import env_networks
from tests.conftest import PROJECT_DIR
from tests.factories import WorkspaceFactory, operator_of
from tests.metrics_scrape import TOKEN, Scrape, metrics_on, scrape  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics_off(settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = []


@pytest.mark.usefixtures("metrics_off")
def test_metrics_are_not_found_when_neither_token_nor_allow_list_is_set(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.usefixtures("metrics_on")
def test_a_scrape_without_a_token_is_told_to_authenticate(client):
    response = client.get("/metrics")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.usefixtures("metrics_on")
def test_a_scrape_with_a_wrong_token_is_forbidden(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.usefixtures("metrics_on")
def test_a_scrape_with_the_token_gets_prometheus_text_with_every_documented_family(client):
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    assert "no-cache" in response["Cache-Control"]
    families = Scrape(response.content.decode()).families
    assert {
        "leadengine_outbound_deliveries",
        "leadengine_outbound_oldest_due_seconds",
        "leadengine_outbound_webhooks",
        "leadengine_outbound_recent_deliveries",
        "leadengine_outbound_state_up",
        "leadengine_lead_upsert_duration_seconds",
    } <= families
    documented = (PROJECT_DIR / "docs" / "operations.md").read_text()
    assert not {name for name in families if f"`{name}" not in documented}


@pytest.mark.usefixtures("metrics_on")
def test_a_post_is_answered_with_json_405(client):
    response = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


def test_an_allowed_address_scrapes_without_a_token_and_others_do_not(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32")]

    assert client.get("/metrics", REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="2001:db8::7").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:10.1.1.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 401
    # a forwarded-for header is anyone's to send: never trusted
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.0.0.1").status_code == 401


def test_with_both_set_the_token_works_from_any_address(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8")]

    assert (
        client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code
        == 200
    )


def test_a_bad_allow_list_entry_stops_start_up_naming_the_variable(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "10.0.0.0/8,not-an-ip")

    with pytest.raises(
        ImproperlyConfigured, match="METRICS_ALLOWED_IPS: not an IP address or network: 'not-an-ip'"
    ):
        env_networks("METRICS_ALLOWED_IPS")


@pytest.mark.usefixtures("metrics_on")
def test_api_throttling_is_counted_as_a_rate_limit_rejection(client, settings):
    cache.clear()  # the throttle counts live there
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1/minute", "anon": "1/minute"},
    }
    api = APIClient()
    api.force_login(operator_of(WorkspaceFactory()))
    before = scrape(client).value("leadengine_rate_limit_rejections_total", scope="api")

    statuses = [api.get("/api/v1/campaigns/").status_code for _ in range(3)]

    assert statuses == [200, 429, 429]
    assert scrape(client).value("leadengine_rate_limit_rejections_total", scope="api") - before == 2


INCREMENT = """
import django, sys
django.setup()
from webhooks.inbound.metrics import inbound_answer_count
for code in sys.argv[1:]:
    inbound_answer_count(int(code))
"""


def test_in_multiprocess_mode_a_scrape_sums_every_process(client, settings, tmp_path):
    # given two processes (a web worker and a Celery child, say) counting into one directory
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for codes in (["201", "201", "201"], ["201", "201", "201", "201", "429"]):
        subprocess.run(
            [sys.executable, "-c", INCREMENT, *codes], env=env, cwd=PROJECT_DIR, check=True, timeout=60
        )
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)

    # when this process (which counted nothing there) is scraped
    metrics = scrape(client)

    # then it answers with their sum
    assert metrics.value("leadengine_inbound_requests_total", status_code="201") == 7
    assert metrics.value("leadengine_inbound_requests_total", status_code="429") == 1
    assert metrics.value("leadengine_rate_limit_rejections_total", scope="inbound_webhook") == 1
    assert metrics.value("leadengine_outbound_state_up") == 1  # the database gauges are still there
