import gc

import pytest

from leadengine.collector import collector_paused
from leads.events import lead_status_changed
from leads.services import leads_set_status
from tests.factories import LeadFactory


@pytest.fixture(autouse=True)
def collector_on():
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_paused_inside_the_block_and_on_again_after_it():
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_inner_block_leaves_the_collector_paused_for_the_outer_one():
    with collector_paused():
        with collector_paused():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_the_block_still_turns_the_collector_back_on():
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


@pytest.mark.django_db
def test_a_status_change_runs_without_cyclic_collections_and_leaves_the_collector_on():
    lead = LeadFactory()
    seen = []

    def receiver(sender, event, **kwargs):
        seen.append(gc.isenabled())

    lead_status_changed.connect(receiver)
    try:
        leads_set_status(leads=[lead], status="Meeting Booked")
        with pytest.raises(ValueError):
            leads_set_status(leads=[lead], status="Not a status")
    finally:
        lead_status_changed.disconnect(receiver)
    assert seen == [False] and gc.isenabled()
