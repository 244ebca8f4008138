"""The concurrent sender: many requests in flight per worker process.

Plan → send → record, as a loop. The task's thread claims work (`dispatch.deliveries_claim`:
fair between endpoints, within their caps, not past a breaker), hands each request to a
thread pool (`http_client.webhook_post`: the one SSRF-safe client, pinned addresses, one
timeout), and records outcomes in groups (`dispatch.outcomes_record`; on PostgreSQL after
the next claim, while its requests are in flight: see `_records_after_claim`). Only the task's
thread touches the database; the pool's threads only do HTTP, through the process's one
pinned urllib3 pool manager (created per process), so Django's per-thread connections need
no care and a prefork child never shares sockets.
Why threads: docs in webhooks/outbound/README.md ("Concurrency").
"""

import contextlib
import logging
import os
import signal
import threading
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction

from . import dispatch
from .http_client import DeliveryResult, webhook_post

logger = logging.getLogger(__name__)

RECORD_EVERY = 25  # outcomes written per group, so a crash leaves at most this many open
RECORD_INTERVAL = 0.2  # seconds an outcome may wait for its group
BUSY_CLAIM_INTERVAL = 0.02  # between claims while requests finish (one claim fills many slots)
# After a claim that took all it asked for (more may be due: the slots, not the endpoints'
# room, were the limit): slots freed since are filled sooner.
FULL_CLAIM_INTERVAL = 0.005
IDLE_CLAIM_INTERVAL = 0.25  # between claims that found nothing, while requests are in flight
# A doorbell whose own deliveries are gone (sent by a run that is draining) looks for other
# work only if this process has not just found none: see `_deliver`.
EMPTY_DOORBELL_QUIET = 0.25

# Seconds a prefork child told to stop (SIGTERM) lives on after its run: its worker, shutting
# down, ends it sooner; a SIGTERM sent to the child alone must not leave a child that never
# claims again.
STOPPED_CHILD_EXIT_AFTER = 5.0

_pool = {"pid": None, "executor": None}
# Set when this process's worker begins a warm shutdown (a threads-pool worker, Ctrl-C under
# bin/run) or a prefork child's run gets SIGTERM: runs stop claiming and only finish what is
# in flight, so the process exits in seconds, not at the end of a send window.
_stop_claiming = threading.Event()
_child = {"prefork": False, "terminated": False}
_found_nothing = {"at": float("-inf")}  # when a claim of any due delivery last came back empty


def _records_after_claim():
    """On PostgreSQL a claim passes over the run's finished but unwritten deliveries
    (`dispatch.deliveries_claim(finished=…)`), so their outcomes are written after it, on
    their own (successes: one statement), while the requests it claimed are in flight: the
    endpoint's next requests no longer wait for that write. SQLite, one writer, keeps one
    transaction for both: the outcomes first, then the claim."""
    return connection.vendor == "postgresql"


def sender_stop_claiming():
    _stop_claiming.set()


def sender_in_prefork_child():
    """Called in each prefork child. Billiard ends a child on SIGTERM at once, and a deploy
    sends it to every process of the worker: a child died with requests in flight, their
    outcomes unrecorded, their attempts closed later as "WorkerLost" and sent again a lease
    later (twice, since the receiver had them). While a child runs, SIGTERM now makes the
    run stop claiming, finish and record what is in flight (one timeout at most); the child
    ends after it. The handler is set per run: billiard sets its own after this signal."""
    _child["prefork"] = True


def _on_sigterm(signum, frame):
    _stop_claiming.set()
    _child["terminated"] = True


def _terminate():
    os.kill(os.getpid(), signal.SIGTERM)  # billiard's own handler again: the child exits


def sender_pool():
    """One pool per process, created lazily (a prefork child never inherits threads)."""
    if _pool["pid"] != os.getpid():
        _pool["executor"] = ThreadPoolExecutor(
            max_workers=settings.WEBHOOK_SENDER_CONCURRENCY, thread_name_prefix="webhook-sender"
        )
        _pool["pid"] = os.getpid()
    return _pool["executor"]


def _post(url, body, msg_id, secrets):
    try:
        return webhook_post(url=url, body=body, msg_id=msg_id, secrets=secrets)
    except Exception as exc:  # a bug must not strand the claim: record it as a failed attempt
        logger.exception("Unexpected error sending webhook %s", msg_id)
        return DeliveryResult(
            ok=False,
            retryable=True,
            started_at=datetime.now(UTC),
            duration_ms=0,
            request_url=url,
            error_class=type(exc).__name__,
            error_message=str(exc)[:1000],
        )


class _Run:
    """One task's sending run: what is in flight, what waits to be recorded."""

    def __init__(self, window):
        self.concurrency = settings.WEBHOOK_SENDER_CONCURRENCY
        self.stop_claiming_at = time.monotonic() + window
        self.in_flight = {}  # future -> (claim token, delivery)
        self.outcomes = defaultdict(list)  # claim token -> [(delivery, result)]
        self.waiting = 0
        self.finished = 0
        self.next_claim_at = 0.0
        self.last_claim_at = 0.0
        self.last_claimed = 0  # deliveries the last claim took
        self.freed = 0  # requests finished since the last claim
        self.busy_interval = BUSY_CLAIM_INTERVAL
        self.last_record_at = time.monotonic()
        self.next_renewal_at = time.monotonic() + settings.WEBHOOK_LEASE_SECONDS / 4

    def claim(self, ids=None):
        self.harvest([future for future in self.in_flight if future.done()])
        free = self.concurrency - len(self.in_flight)
        now = time.monotonic()
        if _stop_claiming.is_set():
            self.stop_claiming_at = now
        if free <= 0 or now >= self.stop_claiming_at or now < self.next_claim_at:
            return None
        limit = min(free, settings.WEBHOOK_DELIVERY_BATCH_SIZE)
        # A network failure is written before the next claim: it may hold its endpoint back
        # (the breaker), and a probe's failure must set the pause before another probe goes.
        record_after = self.waiting and _records_after_claim() and not self.network_failure_waiting()
        record_first = self.waiting and not record_after
        # Finished requests hold their endpoints' room until recorded: record first, or an
        # endpoint at its cap would wait a whole record interval per round (one commit for
        # both). Alone, a PostgreSQL claim is one statement: no transaction round trips.
        with transaction.atomic() if record_first else contextlib.nullcontext():
            if record_first:
                self.record()
            claim = dispatch.deliveries_claim(
                ids=ids, limit=limit, finished=self.unrecorded() if record_after else ()
            )
        self.finished += len(claim.unsent)
        if ids is None and not len(claim) and not record_after:  # else: looked again below
            _found_nothing["at"] = now
        for delivery in claim.to_send:
            webhook = delivery.webhook
            future = sender_pool().submit(
                _post, webhook.url, bytes(delivery.payload), delivery.event_id, webhook.signing_secrets()
            )
            self.in_flight[future] = (claim.token, delivery)
        self.last_claim_at = now
        self.last_claimed, self.freed = len(claim.to_send), 0
        if record_after and (not len(claim) or self.record_due(now)):
            self.record()  # while the requests just claimed are in flight
            if not len(claim):
                # What it passed over may have held deliveries back (an ordered lead's next
                # event waits for its earlier one's outcome): look again, now it is written.
                self.next_claim_at = 0.0
                return None
        self.busy_interval = FULL_CLAIM_INTERVAL if len(claim) == limit else BUSY_CLAIM_INTERVAL
        self.next_claim_at = now + (self.busy_interval if len(claim) else IDLE_CLAIM_INTERVAL)
        return len(claim)

    def unrecorded(self):
        return [delivery.pk for results in self.outcomes.values() for delivery, _result in results]

    def claiming_over(self):
        return _stop_claiming.is_set() or time.monotonic() >= self.stop_claiming_at

    def collect(self):
        done, _ = wait(list(self.in_flight), timeout=BUSY_CLAIM_INTERVAL, return_when=FIRST_COMPLETED)
        self.harvest(done)
        now = time.monotonic()
        if self.record_due(now):
            self.record()
        if now >= self.next_renewal_at:
            dispatch.leases_renew({token for token, _ in self.in_flight.values()})
            self.next_renewal_at = now + settings.WEBHOOK_LEASE_SECONDS / 4

    def network_failure_waiting(self):
        return any(
            result.network_failure for results in self.outcomes.values() for _delivery, result in results
        )

    def record_due(self, now):
        return self.waiting >= RECORD_EVERY or (self.waiting and now - self.last_record_at >= RECORD_INTERVAL)

    def harvest(self, done):
        """Move finished requests to the outcomes waiting to be recorded. Each frees a slot and
        its endpoint's room, so a claim that found nothing (all room taken) is tried again
        soon, not an idle interval later."""
        if done:
            self.freed += len(done)
            # A whole claim's worth of requests over: the slots it filled are free again
            # (an endpoint at its cap drains at one claim per wave, not per busy interval).
            interval = FULL_CLAIM_INTERVAL if self.freed >= self.last_claimed else self.busy_interval
            self.next_claim_at = min(self.next_claim_at, self.last_claim_at + interval)
        for future in done:
            token, delivery = self.in_flight.pop(future)
            self.outcomes[token].append((delivery, future.result()))
            self.waiting += 1

    def record(self):
        if self.outcomes:
            # Its own transaction (on PostgreSQL, successes alone: one statement), or the
            # claim's when called inside it: one commit for both.
            dispatch.outcomes_record(self.outcomes)
        for results in self.outcomes.values():
            self.finished += len(results)
        self.outcomes.clear()
        self.waiting = 0
        self.last_record_at = time.monotonic()


def deliveries_deliver(*, ids=None, window=None, taken=None):
    """Claim and send deliveries until nothing is claimable or the window closes, then wait
    for the requests in flight; returns how many deliveries finished an attempt.

    `ids` (a doorbell's own deliveries) are claimed first; then any due delivery, so a
    backlog of one-delivery doorbells drains at full concurrency and later doorbells find
    their rows sent. Past the window no new work is claimed; what is in flight completes.
    `taken`: called once the doorbell's own requests are on their way (`outbox.doorbell_taken`);
    True when the doorbell also stands for commits that rang none: the run then always looks
    for other work.
    """
    window = settings.WEBHOOK_SEND_WINDOW_SECONDS if window is None else window
    if not (_child["prefork"] and threading.current_thread() is threading.main_thread()):
        return _deliver(ids, window, taken)  # signal handlers are set on a main thread only
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _deliver(ids, window, taken)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if _child["terminated"]:
            timer = threading.Timer(STOPPED_CHILD_EXIT_AFTER, _terminate)
            timer.daemon = True
            timer.start()


def _deliver(ids, window, taken):
    run = _Run(window)
    found = run.claim(ids=ids) if ids else None
    for_others = bool(taken and taken())  # off the doorbell's own latency path
    if ids and not found:
        # Already sent, or held back by a cap that another run is filling. Under a backlog a
        # doorbell per committed change reaches every worker process; each used to claim
        # again for other work, find the same nothing, and spin (two claims a doorbell,
        # profiled: one prefork child busy with empty claims while the other drained).
        if not for_others and time.monotonic() - _found_nothing["at"] < EMPTY_DOORBELL_QUIET:
            return run.finished
        run.next_claim_at = 0.0  # look for other work at once
    while True:
        found = run.claim()
        if run.in_flight:
            run.collect()
        elif run.waiting:
            if run.claiming_over():
                run.record()
            else:
                run.next_claim_at = 0.0  # record with the next claim, in one commit
        elif found == 0 or time.monotonic() >= run.stop_claiming_at:
            break
        elif found is None:
            time.sleep(max(0.0, min(run.next_claim_at - time.monotonic(), IDLE_CLAIM_INTERVAL)))
    run.record()
    return run.finished
