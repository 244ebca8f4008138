"""The server's own error pages: JSON for the programs calling /api/ and /webhooks/, HTML
for people in the admin."""

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.error_urls")]


@pytest.fixture
def client():
    client = Client()
    client.raise_request_exception = False  # answer as in production: through handler500
    return client


def test_an_unexpected_exception_under_api_is_a_json_500_in_the_api_error_shape(client):
    response = client.get("/api/v1/broken/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "server_error", "message": response.json()["error"]["message"], "fields": {}}
    }


def test_an_unexpected_exception_under_webhooks_is_a_json_500_in_the_inbound_error_shape(client):
    response = client.post("/webhooks/broken/now", data={}, content_type="application/json")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"
    assert response.json()["detail"]


def test_an_unexpected_exception_in_the_admin_is_django_html_500(client):
    response = client.get("/admin/broken/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert b"Server Error (500)" in response.content


def test_a_lost_database_connection_under_api_is_a_json_503_with_retry_after(client):
    response = client.get("/api/v1/database-gone/")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "unavailable"


def test_a_closed_database_connection_under_webhooks_is_a_retryable_json_503(client):
    response = client.post("/webhooks/database-gone/now", data={}, content_type="application/json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response["Retry-After"] == "1"
    assert response.json()["code"] == "unavailable" and response.json()["retryable"] is True


def test_a_lost_database_connection_in_the_admin_stays_django_html_500(client):
    response = client.get("/admin/database-gone/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/no-such-resource/",
            {"error": {"code": "not_found", "message": "Not found.", "fields": {}}},
        ),
        (
            "/webhooks/a/b/c",
            {
                "error": {"code": "not_found", "message": "Not found.", "fields": {}},
                "code": "not_found",
                "detail": "Not found.",
            },
        ),
    ],
)
def test_an_unrouted_path_under_api_or_webhooks_is_a_json_404(client, path, body):
    response = client.get(path)

    assert response.status_code == 404
    assert response.json() == body


def test_an_unrouted_path_elsewhere_is_django_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
