"""One doorbell waiting is enough: while it waits, commits publish none, and the run of the
worker that takes it sends their rows too (WEBHOOK_DOORBELL_COALESCE)."""

import time

import pytest
from django.core.cache import cache
from django.db import transaction

from leads.models import LeadStatus
from leads.services import lead_set_status
from tests.factories import LeadFactory
from webhooks.outbound import outbox, sender, tasks
from webhooks.outbound.models import Delivery

from .conftest import make_webhook

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("allow_private")]


@pytest.fixture
def shared_doorbell(settings):
    settings.WEBHOOK_DOORBELL_COALESCE = True
    cache.delete(outbox.DOORBELL_WAITING_KEY)
    yield
    cache.delete(outbox.DOORBELL_WAITING_KEY)


class Broker:
    """Stands in for `deliver_webhooks.delay`: the doorbells published, or a broker down."""

    def __init__(self):
        self.rung = []
        self.down = False

    def delay(self, ids):
        if self.down:
            raise ConnectionError("broker down")
        self.rung.append(list(ids))


@pytest.fixture
def broker(monkeypatch):
    broker = Broker()
    monkeypatch.setattr(tasks, "deliver_webhooks", broker)
    return broker


def test_while_a_doorbell_waits_commits_publish_none_until_a_worker_takes_it(shared_doorbell, broker):
    outbox.deliveries_ring_doorbell(ids=[1])
    outbox.deliveries_ring_doorbell(ids=[2])
    outbox.deliveries_ring_doorbell(ids=[])  # the sweeper waking another worker: always
    assert broker.rung == [[1], []]

    assert outbox.doorbell_taken()  # it stands for the commits that rang none
    outbox.deliveries_ring_doorbell(ids=[3])
    assert broker.rung == [[1], [], [3]]


def test_every_commit_rings_when_doorbells_are_not_shared(settings, broker):
    settings.WEBHOOK_DOORBELL_COALESCE = False  # the embedded default: a per-process cache
    outbox.deliveries_ring_doorbell(ids=[1])
    outbox.deliveries_ring_doorbell(ids=[2])
    assert broker.rung == [[1], [2]]
    assert not outbox.doorbell_taken()


def test_a_doorbell_the_broker_refused_leaves_no_waiting_flag(shared_doorbell, broker):
    broker.down = True
    outbox.deliveries_ring_doorbell(ids=[1])  # logged; the sweeper has the rows
    broker.down = False
    outbox.deliveries_ring_doorbell(ids=[2])
    assert broker.rung == [[2]]


def test_the_run_of_a_shared_doorbell_sends_the_rows_of_commits_that_rang_none(
    shared_doorbell, workspace, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    make_webhook(workspace, receiver.url)
    broker = Broker()
    with monkeypatch.context() as patched:
        patched.setattr(tasks, "deliver_webhooks", broker)
        for lead in LeadFactory.create_batch(3, workspace=workspace):
            with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
                lead_set_status(lead=lead, status=LeadStatus.OPPORTUNITY)
    [first, *others] = Delivery.objects.order_by("pk").values_list("pk", flat=True)
    assert broker.rung == [[first]]
    # Another run sent the doorbell's own row, and this process has just found nothing: a
    # doorbell of one commit would end here; a shared one looks further.
    Delivery.objects.filter(pk=first).update(status=Delivery.Status.SUCCEEDED)
    monkeypatch.setitem(sender._found_nothing, "at", time.monotonic())

    assert tasks.deliver_webhooks([first]) == 2

    assert len(receiver.requests) == 2
    assert set(Delivery.objects.filter(pk__in=others).values_list("status", flat=True)) == {
        Delivery.Status.SUCCEEDED
    }
