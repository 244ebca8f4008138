"""How a delivery reads on every admin screen: the webhook page, the lead page, the delivery
log and Settings ▸ Webhooks all take its badge, next-attempt text and table from here."""

import json

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html

from .models import Delivery
from .retry import MAX_ATTEMPTS

STATUS_COLOURS = {
    Delivery.Status.PENDING: "amber",
    Delivery.Status.IN_FLIGHT: "blue",
    Delivery.Status.SUCCEEDED: "green",
    Delivery.Status.FAILED: "red",
}


def status_badge(delivery):
    """The (word, colour) of a delivery's state; the word is `Delivery.status_word`, so the
    badge, the page title and Settings ▸ Webhooks say the same thing."""
    return delivery.status_word, STATUS_COLOURS[delivery.status]


def status_badge_html(delivery):
    label, colour = status_badge(delivery)
    return format_html('<span class="le-badge le-{}">{}</span>', colour, label)


def next_attempt_text(delivery):
    if delivery.status == Delivery.Status.PENDING and delivery.next_attempt_at:
        return format_html(
            '<span class="le-next-attempt">next attempt at {} UTC</span> '
            '<span class="help">(attempt {} of {})</span>',
            f"{delivery.next_attempt_at:%Y-%m-%d %H:%M:%S}",
            delivery.next_attempt_number,
            MAX_ATTEMPTS,
        )
    if delivery.status == Delivery.Status.IN_FLIGHT:
        return "sending now"
    return "—"


def redeliver_button(delivery, label="Redeliver"):
    """A POST button for one delivery (formaction: it may sit inside another form)."""
    if delivery.is_test or delivery.status == Delivery.Status.IN_FLIGHT:
        return ""
    return format_html(
        '<button type="submit" class="button le-redeliver" formaction="{}" formmethod="post" '
        "formnovalidate>{}</button>",
        reverse("admin:outbound_delivery_redeliver", args=[delivery.pk]),
        label,
    )


def status_change_text(delivery):
    """ "Follow Up → Opportunity", read from the payload the delivery sends."""
    try:
        payload = json.loads(bytes(delivery.payload))
        previous = payload.get("previous_lead_status") or "no status"
        return f"{previous} → {payload.get('new_lead_status')}"
    except (ValueError, AttributeError):
        return delivery.event_type


def delivery_table(deliveries, *, for_lead=False, table_id=""):
    """The delivery table of the webhook page (event and error columns, redeliver buttons)
    and of the lead page (which webhook, which status change), from one template."""
    rows = [
        {
            "url": reverse("admin:outbound_delivery_change", args=[delivery.pk]),
            "created_at": delivery.created_at,
            "webhook": delivery.webhook if for_lead else None,
            "event": status_change_text(delivery)
            if for_lead
            else ("test" if delivery.is_test else delivery.event_type),
            "badge": status_badge_html(delivery),
            "http": delivery.last_status_code or "—",
            "attempts": delivery.attempt_count,
            "next_attempt": next_attempt_text(delivery),
            "error": delivery.last_error,
            "redeliver": "" if for_lead else redeliver_button(delivery),
        }
        for delivery in deliveries
    ]
    return render_to_string(
        "admin/outbound/delivery_table.html", {"rows": rows, "for_lead": for_lead, "table_id": table_id}
    )


CHART_WIDTH, CHART_HEIGHT, CHART_GAP = 320, 56, 2


def attempts_chart(attempts):
    """Bars for an inline SVG, oldest attempt first: the height is the latency (scaled to the
    slowest shown), the colour the outcome. Drawn by the server: no chart library, no CDN."""
    if not attempts:
        return None
    slowest = max(attempt.duration_ms for attempt in attempts) or 1
    width = CHART_WIDTH / max(len(attempts), 20)
    bars = []
    for index, attempt in enumerate(attempts):
        height = max(2, round(CHART_HEIGHT * attempt.duration_ms / slowest, 1))
        bars.append(
            {
                "x": round(index * width, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "width": round(max(width - CHART_GAP, 1), 1),
                "height": height,
                "colour": "ok" if attempt.succeeded else "fail",
                "title": f"{attempt.started_at:%Y-%m-%d %H:%M:%S} UTC · "
                f"{attempt.status_code or attempt.error_class or 'no answer'} · {attempt.duration_ms} ms"
                + (" · test" if attempt.delivery.is_test else ""),
            }
        )
    return {"bars": bars, "slowest_ms": slowest, "width": CHART_WIDTH, "height": CHART_HEIGHT}


def attempt_pill(attempt):
    """One attempt as a small badge: its HTTP code, or the error when nothing answered."""
    colour = "green" if attempt.succeeded else "red"
    label = attempt.status_code or attempt.error_class or "…"
    return format_html(
        '<span class="le-badge le-{} le-attempt" title="Attempt {} · {} UTC · {} ms{}">{}</span>',
        colour,
        attempt.number,
        f"{attempt.started_at:%Y-%m-%d %H:%M:%S}",
        attempt.duration_ms,
        f" · {attempt.error_message}" if attempt.error_message else "",
        label,
    )
