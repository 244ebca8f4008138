"""Settings ▸ Webhooks: one page, a Send Data / Receive Data toggle, each kind with its health."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from leadengine.models import Workspace

from . import selectors
from .outbound.models import Delivery
from .outbound.notifications import notices_open_for, webhook_notice_acknowledge
from .outbound.presentation import status_badge

KINDS = {
    "send": {
        "label": "Send Data",
        "button": "Add Trigger",
        "add_url": "admin:outbound_outboundwebhook_add",
        "log_url": "admin:outbound_delivery_changelist",
        "log_label": "All deliveries",
        "blurb": "Triggers POST a signed JSON payload to another tool whenever a lead's status changes.",
        "empty": "No triggers yet. Add one to send every lead status change to Zapier, Make, n8n "
        "or your own server.",
    },
    "receive": {
        "label": "Receive Data",
        "button": "Add Action",
        "add_url": "admin:inbound_inboundwebhook_add",
        "log_url": "admin:inbound_inboundrequest_changelist",
        "log_label": "All requests",
        "blurb": "Actions give a web form, CRM or Zapier a URL to POST leads to; the mapping turns "
        "their fields into LeadEngine fields.",
        "empty": "No actions yet. Add one to create or update leads from a web form, a CRM or Zapier.",
    },
}


def webhooks_settings_view(request, *, admin_site):
    kind = request.GET.get("kind") if request.GET.get("kind") in KINDS else "send"
    if kind == "send":
        rows = [
            _outbound_row(webhook) for webhook in selectors.outbound_webhooks_with_health(user=request.user)
        ]
    else:
        rows = [
            _inbound_row(webhook) for webhook in selectors.inbound_webhooks_with_health(user=request.user)
        ]
    workspaces = {row["workspace"] for row in rows}
    tabs = [
        {"kind": key, "label": spec["label"], "active": key == kind, "url": f"?kind={key}"}
        for key, spec in KINDS.items()
    ]
    spec = KINDS[kind]
    context = {
        **admin_site.each_context(request),
        "title": "Webhooks",
        "subtitle": spec["label"],
        "kind": kind,
        "tabs": tabs,
        "spec": spec,
        "add_url": reverse(spec["add_url"]),
        "log_url": reverse(spec["log_url"]),
        "rows": rows,
        "show_workspace": len(workspaces) > 1,
        "api_keys_url": reverse("admin:leadengine_apikey_changelist"),
        "notices": [_notice_banner(notice) for notice in notices_open_for(workspaces=_workspaces(request))],
    }
    return TemplateResponse(request, "admin/webhooks/settings.html", context)


@require_POST
def webhook_notice_acknowledge_view(request, notice_id, *, admin_site):
    """The banner's "Acknowledge" button: gone for everyone in the workspace."""
    notice = notices_open_for(workspaces=_workspaces(request)).filter(pk=notice_id).first()
    if notice is None:
        raise Http404("No open notice with this id in your workspaces.")
    webhook_notice_acknowledge(notice=notice, user=request.user)
    messages.success(request, f'Notice about "{notice.webhook.name}" acknowledged.')
    return redirect(reverse("admin:webhooks_settings") + "?kind=send")


def _workspaces(request):
    return Workspace.objects.for_user(request.user)


def _notice_banner(notice):
    return {
        "id": notice.pk,
        "kind": notice.get_kind_display(),
        "webhook": notice.webhook.name,
        "workspace": notice.webhook.workspace.name,
        "reason": notice.reason,
        "raised_at": notice.raised_at,
        "url": reverse("admin:outbound_outboundwebhook_change", args=[notice.webhook_id]),
        "acknowledge_url": reverse("admin:webhooks_notice_acknowledge", args=[notice.pk]),
    }


def _outbound_row(webhook):
    if not webhook.is_active:
        state = ("red", "Disabled")
    elif webhook.breaker_open:
        state = ("amber", "Endpoint failing")
    elif webhook.failed_24h or webhook.retrying:
        state = ("amber", "Failing" if webhook.failed_24h else "Retrying")
    else:
        state = ("green", "Active")
    last = None
    if webhook.last_delivery_id:
        label, colour = status_badge(
            Delivery(
                status=webhook.last_delivery_status,
                attempt_count=webhook.last_delivery_attempt_count,
                budget_start=webhook.last_delivery_budget_start,
            )
        )
        last = {
            "url": reverse("admin:outbound_delivery_change", args=[webhook.last_delivery_id]),
            "colour": colour,
            "label": label,
            "code": webhook.last_delivery_code,
            # What happened last is the last attempt; a delivery not yet tried has none.
            "at": webhook.last_attempt_at,
            "is_test": webhook.last_delivery_is_test,
        }
    return {
        "name": webhook.name,
        "url": reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk]),
        "target": webhook.url,
        "description": webhook.description,
        "workspace": webhook.workspace.name,
        "state": state,
        "disabled_reason": "" if webhook.is_active else (webhook.disabled_reason or "Paused by an operator."),
        "last": last,
        "total_24h": webhook.deliveries_24h,
        "failed_24h": webhook.failed_24h,
        "failure_rate": selectors.failure_rate(webhook.failed_24h, webhook.deliveries_24h),
        "retrying": webhook.retrying,
        "attempts_24h": webhook.attempts_24h,
        "failed_attempts_24h": webhook.failed_attempts_24h,
        "attempt_failure_rate": selectors.failure_rate(webhook.failed_attempts_24h, webhook.attempts_24h),
        "log_url": reverse("admin:outbound_delivery_changelist") + f"?webhook__id__exact={webhook.pk}",
    }


def _inbound_row(webhook):
    state = ("green", "Active") if webhook.is_active else ("red", "Inactive")
    last = None
    if webhook.last_request_id:
        code = webhook.last_request_code
        last = {
            "url": reverse("admin:inbound_inboundrequest_change", args=[webhook.last_request_id]),
            "colour": "green" if code < 400 else ("amber" if code == 429 else "red"),
            "code": code,
            "at": webhook.last_request_at,
        }
    return {
        "name": webhook.name,
        "url": reverse("admin:inbound_inboundwebhook_change", args=[webhook.pk]),
        "target": webhook.url,
        "description": webhook.description,
        "workspace": webhook.workspace.name,
        "state": state,
        "last": last,
        "total_24h": webhook.requests_24h,
        "failed_24h": webhook.errors_24h,
        "failure_rate": selectors.failure_rate(webhook.errors_24h, webhook.requests_24h),
        "target_list": webhook.target_list.name if webhook.target_list else "",
        "log_url": reverse("admin:inbound_inboundrequest_changelist") + f"?webhook__id__exact={webhook.pk}",
    }
