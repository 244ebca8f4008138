"""`seed_demo` fills every webhook screen: successes, a retrying failure, an inbound error."""

import pytest
from django.core.cache import cache

from leads.demo import seed_demo
from webhooks.inbound.models import InboundRequest
from webhooks.outbound.models import Delivery, OutboundWebhook

pytestmark = pytest.mark.django_db


def test_the_demo_has_deliveries_to_a_working_and_a_failing_receiver_and_an_inbound_error():
    cache.clear()  # the inbound rate limit counts in the cache
    seed_demo(lead_count=10)

    working = OutboundWebhook.objects.get(name="Local receiver (demo)")
    failing = OutboundWebhook.objects.get(name="CRM sync (failing demo)")
    assert failing.url == "http://127.0.0.1:8002/"
    assert Delivery.objects.filter(webhook=working).count() == 3
    assert Delivery.objects.filter(webhook=failing).count() == 1
    assert sorted(InboundRequest.objects.values_list("status_code", flat=True)) == [200, 422]
    # bin/run already runs the receivers: the demo doesn't ask the operator to start one.
    assert "python manage.py" not in working.description and "bin/run" in working.description


def test_seeding_the_demo_twice_adds_no_webhooks_deliveries_or_requests():
    cache.clear()
    seed_demo(lead_count=10)
    counts = (OutboundWebhook.objects.count(), Delivery.objects.count(), InboundRequest.objects.count())

    seed_demo(lead_count=10)

    assert (
        OutboundWebhook.objects.count(),
        Delivery.objects.count(),
        InboundRequest.objects.count(),
    ) == counts


def test_production_code_never_imports_django_test():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    production = [
        path
        for path in root.rglob("*.py")
        if not {"tests", ".venv", "node_modules"} & set(path.relative_to(root).parts)
    ]

    offenders = [str(path.relative_to(root)) for path in production if "django.test" in path.read_text()]

    assert production and offenders == []
