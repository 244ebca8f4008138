"""The operator's five webhook flows, clicked through in headless Chromium.

Each test is one flow as an operator lives it: log in, find the screen from the admin
index, click, read what the page says. Data the flow is not about is created with the ORM.
"""

import json

import pytest
import requests
import standardwebhooks
from django.db import transaction

from leadengine.services import api_key_create
from leads.models import Lead, LeadStatus
from leads.services import lead_set_status
from tests.conftest import wait_until
from tests.factories import InboundWebhookFactory, LeadFactory, OutboundWebhookFactory
from webhooks.inbound.models import InboundWebhook
from webhooks.inbound.services import mappings_suggest
from webhooks.outbound.models import Delivery
from webhooks.outbound.receiver import Answer

from .conftest import screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def open_settings_webhooks(page, kind_label):
    page.click("#site-name a")  # the admin index, whose Settings section lists Webhooks
    page.click("#content-main .app-settings a:text-is('Webhooks')")
    page.click(f".le-tabs a:text-is('{kind_label}')")
    page.wait_for_selector(f".le-tabs a.le-active:text-is('{kind_label}')")


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
    page.wait_for_selector(".messagelist .success")
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


def test_a_status_change_in_the_admin_is_delivered_signed_and_logged(logged_in, workspace, receiver, worker):
    page = logged_in
    lead = LeadFactory(workspace=workspace, name="Ada Lovelace", first_name="Ada", last_name="Lovelace")
    with transaction.atomic():
        lead_set_status(lead=lead, status=LeadStatus.FOLLOW_UP)  # before the trigger exists: no delivery
    webhook = trigger(workspace, receiver.url)

    page.goto(f"/admin/leads/lead/{lead.pk}/change/")
    page.select_option("#id_lead_status", LeadStatus.OPPORTUNITY)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

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
    page.wait_for_selector(".field-attempt_log")
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
    page.wait_for_selector(".messagelist .success")
    url = page.input_value("#webhook-url")
    page.click("button[data-copy-target=webhook-url]")
    page.wait_for_selector("button[data-copy-target=webhook-url]:text-is('Copied')")
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.check("#id_capture_next")
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

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
        page.locator("select:focus").select_option(field)
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")
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
    page.select_option("#id_workspace", label="Acme Outreach")
    page.fill("#id_name", "Zapier")
    page.click("input[name=_save]")
    key = page.input_value("#new-api-key")
    assert key.startswith("le_live_")
    lead = {"email": "linus@example.com", "first_name": "Linus"}
    ok = requests.post(webhook.url, json=lead, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert ok.status_code == 201, ok.text

    page.click("text=I have copied the key")
    page.click("#result_list a:text-is('Zapier')")
    assert key not in page.content()  # shown once: only the prefix from now on
    page.click(".object-tools a:text-is('Revoke')")
    page.click("input[value='Yes, revoke it']")
    page.wait_for_selector(".messagelist li:has-text('Revoked')")
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
    recent = page.locator("#le-recent-deliveries")
    assert "Retrying" in recent.inner_text() and "next attempt at" in recent.inner_text()
    page.locator("fieldset", has=recent).scroll_into_view_if_needed()
    screenshot(page, "outbound-webhook-retrying")
    page.click("a:text-is('All deliveries of this webhook')")
    assert "next attempt at" in page.inner_text("#result_list")
    screenshot(page, "deliveries")

    receiver.default = Answer(status=200, body=b"ok")
    page.go_back()
    page.click("#le-recent-deliveries button:text-is('Redeliver')")
    page.wait_for_selector(".messagelist .success")
    reload_until(page, ".field-status_column .le-badge:text-is('Succeeded')")
    assert len(receiver.requests) == 2
    assert {request.header("webhook-id") for request in receiver.requests} == {
        Delivery.objects.get(webhook=webhook).event_id
    }
