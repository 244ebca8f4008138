"""The operator's five webhook flows, clicked through in headless Chromium.

Each test is one flow as an operator lives it: log in, find the screen from the admin
index, click, read what the page says. Data the flow is not about is created with the ORM.
"""

import base64
import hashlib
import hmac
import json
from urllib.parse import urlsplit

import pytest
import requests
import standardwebhooks
from django.db import transaction
from django.utils import timezone

from leadengine.models import ApiKey
from leadengine.services import api_key_create
from leads.models import Lead, LeadStatus
from leads.services import lead_set_status
from tests.conftest import wait_until
from tests.factories import InboundWebhookFactory, LeadFactory, OutboundWebhookFactory
from tests.inbound.conftest import PAYLOADS
from webhooks.inbound.models import InboundWebhook
from webhooks.inbound.services import mappings_suggest
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import Answer

from .conftest import ClickCounter, expect_saved, in_viewport, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def open_settings_webhooks(page, kind_label):
    page.click("#site-name a")  # the admin index, whose Settings section lists Webhooks
    page.click("#content-main .app-settings a:text-is('Webhooks')")
    page.click(f".le-tabs a:text-is('{kind_label}')")
    page.wait_for_selector(f".le-tabs a.le-active:text-is('{kind_label}')")
    page.wait_for_load_state()  # the rows below the tabs parsed too, before a test reads them


def trigger(workspace, url, name="Zapier"):
    # Created like the admin form does; only the form's DNS check is skipped (loopback).
    return OutboundWebhookFactory(workspace=workspace, name=name, url=url)


def reload_until(page, selector, timeout=20):
    """Reload until the page shows `selector` (the worker writes outcomes asynchronously)."""

    def shown():
        page.reload()
        return page.locator(selector).count() > 0

    wait_until(shown, timeout=timeout, interval=0.3, message=selector)


def test_operator_adds_a_trigger_and_send_test_shows_the_2xx_result(logged_in, receiver):
    page = logged_in
    receiver.default = Answer(status=200, body=b'{"received": true}')

    open_settings_webhooks(page, "Send Data")
    page.click("#le-add:text-is('Add Trigger')")
    page.fill("#id_name", "Zapier: new opportunities")
    page.fill("#id_description", "Posts every status change to our Zap.")
    page.fill("#id_url", receiver.url)
    page.click("input[name=_continue]")
    expect_saved(page)
    page.click("button:text-is('Send Test')")

    page.wait_for_selector("text=Delivered.")
    assert "200" in page.inner_text("#le-send-test-result")
    assert '{"received": true}' in page.inner_text("#le-send-test-response")
    screenshot(page, "outbound-send-test")
    [request] = receiver.requests
    assert json.loads(request.body)["workspace_name"] == "Acme Outreach"

    open_settings_webhooks(page, "Send Data")
    row = page.locator("tr.le-row", has_text="Zapier: new opportunities")
    assert "Succeeded · 200" in row.inner_text() and "(test)" in row.inner_text()
    screenshot(page, "settings-webhooks-send")


def test_a_trigger_whose_host_does_not_resolve_yet_is_saved_with_a_warning_and_listed(logged_in, stub_dns):
    page = logged_in
    # The live server runs in this process: the stub resolver answers its lookup ("no such
    # host"), so the outcome never depends on the machine's DNS.
    url = "https://hooks.not-live-yet.invalid/x"

    open_settings_webhooks(page, "Send Data")
    page.click("#le-add:text-is('Add Trigger')")
    page.fill("#id_name", "CRM before its DNS is live")
    page.fill("#id_url", url)
    page.click("input[name=_continue]")

    expect_saved(page)
    warning = page.inner_text(".messagelist .warning")
    assert "hooks.not-live-yet.invalid does not resolve yet" in warning
    assert page.locator(".errorlist").count() == 0
    assert "hooks.not-live-yet.invalid" in stub_dns["lookups"]
    open_settings_webhooks(page, "Send Data")
    assert url in page.locator("tr.le-row", has_text="CRM before its DNS is live").inner_text()


def test_a_status_change_in_the_admin_is_delivered_signed_and_logged(logged_in, workspace, receiver, worker):
    page = logged_in
    lead = LeadFactory(workspace=workspace, name="Ada Lovelace", first_name="Ada", last_name="Lovelace")
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.FOLLOW_UP)  # before the trigger exists: no delivery
    webhook = trigger(workspace, receiver.url)

    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    status = f"#id_lead_status label:has-text('{LeadStatus.OPPORTUNITY}')"
    save = ".submit-row input[name=_continue] >> nth=0"  # the Save row at the top
    assert in_viewport(page, status) and in_viewport(page, save)  # 2 clicks, no scrolling
    page.click(status)
    page.click(save)
    expect_saved(page)

    wait_until(lambda: receiver.requests, message="the receiver to get the delivery")
    [request] = receiver.requests
    verified = standardwebhooks.Webhook(webhook.secret).verify(request.body, request.headers)
    assert verified["new_lead_status"] == "Opportunity" and verified["lead_name"] == "Ada Lovelace"
    reload_until(page, "#webhook_deliveries-group .le-badge:text-is('Succeeded')")
    section = page.locator("#webhook_deliveries-group")
    assert "Follow Up → Opportunity" in section.inner_text()
    assert page.inner_text(".le-status-history tbody").split()[:1] == ["Opportunity"]  # newest first
    assert "Follow Up" in page.inner_text(".le-status-history tbody")
    screenshot(page, "lead")  # the status and its history, at the top
    section.scroll_into_view_if_needed()
    screenshot(page, "lead-deliveries")

    section.locator("a", has_text=":").first.click()  # the delivery's timestamp links to it
    page.wait_for_load_state()
    assert "200" in page.inner_text(".field-attempt_log")
    assert request.header("webhook-id") in page.inner_text(".field-event_id")


def test_operator_maps_a_captured_sample_and_the_next_post_creates_the_lead(
    logged_in, live_server, workspace
):
    page = logged_in
    _, key = api_key_create(workspace=workspace, name="Typeform")

    open_settings_webhooks(page, "Receive Data")
    page.click("#le-add:text-is('Add Action')")
    page.fill("#id_name", "Typeform signup")
    page.fill("#id_description", "The signup form on our site.")
    page.click("input[name=_continue]")
    expect_saved(page)
    url = page.input_value("#webhook-url")
    page.click("button[data-copy-target=webhook-url]")
    page.wait_for_selector("button[data-copy-target=webhook-url]:text-is('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.check("#id_capture_next")
    page.click("input[name=_continue]")
    expect_saved(page)

    sample = {"contact": {"work": {"email": "Ada@Initech.example"}}, "given": "Ada", "org": "Initech"}
    captured = requests.post(url, json=sample, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert captured.status_code == 422  # processed with the suggested mapping: no "email" key

    page.reload()
    page.wait_for_selector("#le-sample-paths")
    for row in page.locator("#mappings-group tr.form-row.has_original").all():
        row.locator("input[name$='-DELETE']").check()  # the suggested rows don't fit this sender
    for path, field in (
        ("contact/work/email", "business_email"),
        ("given", "first_name"),
        ("org", "company_name"),
    ):
        page.click(f"#le-sample-paths button[data-map-path='{path}']")
        if not page.locator("input:focus").count():  # a suggested field was filled in
            continue
        page.locator("input:focus").fill(field)
    page.click("input[name=_continue]")
    expect_saved(page)
    page.locator("#mappings-group").scroll_into_view_if_needed()
    screenshot(page, "inbound-mapping-editor")

    webhook = InboundWebhook.objects.get(name="Typeform signup")
    assert set(webhook.mappings.values_list("field", "source_path")) == {
        ("business_email", "contact/work/email"),
        ("first_name", "given"),
        ("company_name", "org"),
    }
    following = {"contact": {"work": {"email": "Grace@Hooli.example"}}, "given": "Grace", "org": "Hooli"}
    created = requests.post(url, json=following, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert created.status_code == 201, created.text
    lead = Lead.objects.get(pk=created.json()["lead_id"])
    assert (lead.business_email, lead.first_name, lead.company_name) == (
        "grace@hooli.example",
        "Grace",
        "Hooli",
    )

    page.reload()
    requests_log = page.inner_text("#le-recent-requests")
    assert "HTTP 201" in requests_log and "HTTP 422" in requests_log
    open_settings_webhooks(page, "Receive Data")
    assert "HTTP 201" in page.locator("tr.le-row", has_text="Typeform signup").inner_text()
    screenshot(page, "settings-webhooks-receive")


def test_an_api_key_is_shown_once_and_a_revoked_key_gets_401(logged_in, live_server, workspace):
    page = logged_in
    webhook = InboundWebhookFactory(workspace=workspace, name="Website form")
    mappings_suggest(webhook=webhook)

    page.click("#content-main a:text-is('API Keys')")
    page.click(".object-tools a.addlink")
    page.wait_for_load_state()
    assert page.input_value("#id_workspace") == str(workspace.pk)  # the only workspace, preselected
    page.fill("#id_name", "Zapier")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    key = page.input_value("#new-api-key")
    assert key.startswith("le_live_")
    shown_at = page.url
    page.reload()  # post/redirect/get: the reload creates no second key, and the key is gone
    assert ApiKey.objects.filter(workspace=workspace).count() == 1
    assert key not in page.content() and "shown once" in page.inner_text(".messagelist")
    page.goto(shown_at)
    assert page.locator("#new-api-key").count() == 0
    lead = {"email": "linus@example.com", "first_name": "Linus"}
    ok = requests.post(webhook.url, json=lead, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert ok.status_code == 201, ok.text

    page.click("#result_list a:text-is('Zapier')")
    page.wait_for_load_state()
    assert key not in page.content()  # shown once: only the prefix from now on
    page.click(".object-tools a:text-is('Revoke')")
    page.click("input[value='Yes, revoke it']")
    page.wait_for_selector(".messagelist li:has-text('Revoked')")
    page.wait_for_load_state()
    assert "Revoked" in page.locator("#result_list tr", has_text="Zapier").inner_text()
    screenshot(page, "api-keys")

    refused = requests.post(webhook.url, json=lead, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_failing_receiver_shows_the_retry_and_a_redeliver_click_succeeds(
    logged_in, workspace, receiver, worker
):
    page = logged_in
    receiver.default = Answer(status=500, body=b"database is down")
    webhook = trigger(workspace, receiver.url, name="CRM sync")
    lead = LeadFactory(workspace=workspace)
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.MEETING_BOOKED)
    wait_until(
        lambda: Delivery.objects.filter(status=Delivery.Status.PENDING, attempt_count=1).exists(),
        message="the first attempt to fail",
    )

    open_settings_webhooks(page, "Send Data")
    assert "1 retrying" in page.locator("tr.le-row", has_text="CRM sync").inner_text()
    page.locator("tr.le-row td a", has_text="CRM sync").first.click()
    page.wait_for_load_state()
    latest = page.locator("#le-latest-deliveries")
    assert "Retrying" in latest.inner_text() and "next attempt at" in latest.inner_text()
    assert in_viewport(page, "#le-latest-deliveries .le-attempt")  # the 500, at the top
    screenshot(page, "outbound-webhook-retrying")
    page.click("#le-latest-deliveries a:text-is('All deliveries of this webhook')")
    page.wait_for_load_state()  # the list's last column was once read before it was parsed
    assert "next attempt at" in page.inner_text("#result_list")
    results = page.locator("#changelist .results").bounding_box()
    for column in ("th.column-status_column", "th.column-http_code", "th.column-next_attempt"):
        box = page.locator(column).bounding_box()  # not cut off with the sidebar open
        assert box["x"] + box["width"] <= results["x"] + results["width"] + 1, column
    screenshot(page, "deliveries")

    receiver.default = Answer(status=200, body=b"ok")
    page.go_back()
    page.click("#le-recent-deliveries button:text-is('Redeliver')")
    expect_saved(page)
    reload_until(page, ".field-status_column .le-badge:text-is('Succeeded')")
    assert len(receiver.requests) == 2
    assert {request.header("webhook-id") for request in receiver.requests} == {
        Delivery.objects.get(webhook=webhook).event_id
    }


def test_health_counts_every_failed_attempt_and_the_trigger_page_leads_with_its_actions(
    logged_in, workspace, receiver, worker
):
    page = logged_in
    receiver.default = Answer(status=500, body=b"database is down")
    webhook = trigger(workspace, receiver.url, name="CRM sync")
    for lead in LeadFactory.create_batch(3, workspace=workspace):
        with transaction.atomic():
            lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    wait_until(lambda: len(receiver.requests) == 3, message="three failed first attempts")
    receiver.default = Answer(status=200, body=b"ok")
    with transaction.atomic():
        lead_set_status(lead=LeadFactory(workspace=workspace), status=LeadStatus.OPPORTUNITY)
    wait_until(lambda: Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).exists(), message="the 2xx")

    open_settings_webhooks(page, "Send Data")
    row = page.locator("tr.le-row", has_text="CRM sync").inner_text()
    assert "3 of 4 attempts failed" in row and "(75 %)" in row
    assert "4 deliveries · 0 failed for good" in row and "last attempt" in row
    screenshot(page, "settings-webhooks-send")

    page.locator("tr.le-row td a", has_text="CRM sync").first.click()
    page.wait_for_load_state()
    assert page.inner_text("#le-rate-24h") == "25 %" and page.inner_text("#le-rate-7d") == "25 %"
    assert "1 of 4 attempts" in page.inner_text("#le-health")
    assert page.inner_text("#le-consecutive") == "0"  # 500s answer: not network failures
    assert page.inner_text("#le-last-attempt") == "200"
    assert page.locator("#le-chart rect.le-bar-fail").count() == 3
    assert page.locator("#le-chart rect.le-bar-ok").count() == 1
    assert page.inner_text("#le-endpoint-state") == "Active"
    for element in (
        "#le-endpoint-state",
        "#le-send-test",
        "#le-secret-reveal",
        "#le-secret-copy",
        "#le-health",
        "#le-latest-deliveries tbody tr:nth-child(4)",
    ):
        assert in_viewport(page, element), element  # at 1280×800, sidebar open, no scrolling
    screenshot(page, "outbound-webhook")

    page.click("#le-secret-copy")  # reveals, then copies
    page.wait_for_selector("#le-secret-copy:text-is('Copied')")
    assert page.input_value("#le-secret-value") == webhook.secret
    assert page.evaluate("navigator.clipboard.readText()") == webhook.secret


def test_the_mapping_editor_builds_seven_rows_from_a_captured_sample_in_ten_clicks_or_fewer(
    logged_in, workspace
):
    page = logged_in
    sample = {
        "contact": {"first_name": "Ada", "surname": "Lovelace", "email": "ada@analytical.example"},
        "phone": "+44 20 7946 0000",
        "city": "London",
        "company": {"name": "Analytical Engines"},
        "tags": ["vip", "beta"],
    }
    webhook = InboundWebhookFactory(
        workspace=workspace,
        name="Website form",
        sample_body=json.dumps(sample),
        sample_content_type="application/json",
        sample_captured_at=timezone.now(),
    )
    mappings_suggest(webhook=webhook)  # what saving a new action starts with: the article's rows
    page.goto(f"/admin/inbound/inboundwebhook/{webhook.pk}/change/")
    assert "tags" in page.inner_text("#le-sample-paths .le-array")  # the array itself, mappable
    assert "phones/0" in page.inner_text("#le-path-help")  # path syntax, inline
    clicks = ClickCounter(page)

    clicks.click("#le-map-suggested")
    clicks.click("#le-sample-paths button[data-map-path='contact/surname']")
    clicks.pick("#mappings-group input:focus", "last_name")
    screenshot(page, "inbound-mapping-editor")
    clicks.click("input[name=_continue]")
    expect_saved(page)

    assert clicks.count <= 10, clicks.count
    assert set(webhook.mappings.values_list("field", "source_path")) == {
        ("first_name", "contact/first_name"),
        ("last_name", "contact/surname"),
        ("business_email", "contact/email"),
        ("mobile_phone", "phone"),
        ("city", "city"),
        ("company_name", "company/name"),
        ("tags", "tags"),
    }


def test_lists_fit_1280_pixels_with_the_sidebar_open(logged_in, workspace):
    page = logged_in
    LeadFactory(workspace=workspace, name="Ada Lovelace", business_email="ada@analytical.example")
    page.goto("/admin/leads/lead/")
    results = page.locator("#changelist .results").bounding_box()
    status = page.locator("th.column-lead_status").bounding_box()
    assert status["x"] + status["width"] <= results["x"] + results["width"] + 1
    open_settings_webhooks(page, "Receive Data")
    toolbar = page.locator(".le-toolbar").bounding_box()
    button = page.locator(".le-toolbar a.button:text-is('All requests')").bounding_box()
    assert button["x"] + button["width"] <= toolbar["x"] + toolbar["width"]
    assert toolbar["y"] <= button["y"] and button["y"] + button["height"] <= toolbar["y"] + toolbar["height"]


def test_redoc_renders_with_every_host_but_the_server_blocked(page, live_server):
    server = urlsplit(live_server.url).netloc
    elsewhere = []

    def only_the_server(route):
        if urlsplit(route.request.url).netloc == server:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_server)
    page.goto("/api/redoc/")

    page.wait_for_selector("h1:has-text('LeadEngine API')")  # the schema's title, drawn by Redoc
    assert page.locator("[role=menuitem]:has-text('leads')").count() > 0
    page.wait_for_load_state("networkidle")
    assert elsewhere == []


def test_operator_starts_a_typeform_action_from_its_preset_and_a_signed_post_creates_the_lead(
    logged_in, live_server, workspace
):
    page = logged_in

    open_settings_webhooks(page, "Receive Data")
    page.click("#le-add:text-is('Add Action')")
    page.click("#le-preset-picker a[data-preset=typeform]")
    page.wait_for_selector("#le-preset-chosen")
    assert page.input_value("#id_auth_mode") == "typeform"
    assert "Connect ▸ Webhooks" in page.inner_text("#le-preset-chosen")
    page.evaluate("window.scrollTo(0, 0)")  # the picker and the chosen preset, from the top
    screenshot(page, "inbound-preset-picker")
    page.fill("#id_signing_secret", "typeform-secret-e2e")
    page.click("input[name=_continue]")
    expect_saved(page)
    assert "Connect ▸ Webhooks ▸ Add a webhook" in page.inner_text("#le-preset-setup")

    webhook = InboundWebhook.objects.get(preset="typeform")
    body = (PAYLOADS / "typeform_form_response.json").read_bytes()
    digest = hmac.new(b"typeform-secret-e2e", body, hashlib.sha256).digest()
    created = requests.post(
        webhook.url,
        data=body,
        headers={
            "Content-Type": "application/json",
            "Typeform-Signature": "sha256=" + base64.b64encode(digest).decode(),
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    assert Lead.objects.get(pk=created.json()["lead_id"]).first_name == "Grace"
