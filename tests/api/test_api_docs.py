"""The API docs work offline (no CDN) and the schema shows in a browser."""

import re

import pytest
import yaml
from django.urls import reverse

from tests.factories import WorkspaceFactory, operator_of

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def external_urls(html, host="testserver"):
    urls = re.findall(r"""(?:https?:)?//[^\s"'<>)]+""", html)
    return [url for url in urls if not re.match(rf"(?:https?:)?//{re.escape(host)}(?:[:/]|$)", url)]


def test_redoc_page_references_no_other_host(client):
    response = client.get("/api/redoc/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "redoc.standalone.js" in html
    assert external_urls(html) == []


def test_swagger_page_references_no_other_host(client):
    html = client.get("/api/docs/").content.decode()

    assert external_urls(html) == []


def test_schema_shows_as_json_in_a_browser(client):
    response = client.get("/api/schema/", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].startswith("inline")
    assert response.json()["info"]["title"] == "LeadEngine API"


def test_schema_stays_yaml_for_tools_and_json_on_request(client):
    tool = client.get("/api/schema/", HTTP_ACCEPT="*/*")
    asked = client.get("/api/schema/?format=json", HTTP_ACCEPT=BROWSER_ACCEPT)

    assert tool["Content-Type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(tool.content)["openapi"].startswith("3.")
    assert asked.json()["openapi"].startswith("3.")


def test_the_admin_links_to_the_api_docs(client):
    client.force_login(operator_of(WorkspaceFactory()))

    page = client.get(reverse("admin:index")).content.decode()

    assert 'href="/api/redoc/"' in page and "API docs" in page
