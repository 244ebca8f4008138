"""P10 — recovery: SIGKILL the worker mid-run; how long until everything is delivered?

`--n` deliveries over 20 endpoints (20 workspaces, one webhook each) whose receiver answers
after `--delay` s (so many requests are in flight), committed first (100 per transaction);
then beat and a worker start as the Procfile does. Run 1: no kill. Run 2: when `--kill-at`
POSTs have arrived, the worker's whole process group is SIGKILLed and a new worker starts
(beat keeps running the sweeper, `outbound.deliver_due_webhooks`, every
WEBHOOK_SWEEP_INTERVAL_SECONDS). Time = worker start → every delivery `succeeded` in the
database. Checks after each run (violations printed): every delivery succeeded; attempt_count
= its DeliveryAttempt rows; rows ≥ POSTs the receiver got with its webhook-id.
Prints JSON lines, the added seconds LAST (goal ≤ 30 s).

    .venv/bin/python bench/p10_recovery.py [--n 1000] [--kill-at 300] [--delay 0.2]
"""

import argparse
import os
import time

import le
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from harness import machine, print_json_line, receiver

from leads.services import lead_set_status
from webhooks.outbound.models import Delivery, DeliveryAttempt, OutboundWebhook

ENDPOINTS = 20


def backlog_commit(rx, n, run_number):
    workspaces = le.workspaces_reset("p10", ENDPOINTS)
    leads = []
    for index, workspace in enumerate(workspaces):
        OutboundWebhook.objects.create(
            workspace=workspace, name=f"P10 hook {index}", url=f"{rx.url}/hook/{index}"
        )
        leads.append(le.leads_create(workspace, n // ENDPOINTS, prefix=f"p10w{index}r{run_number}-"))
    order = [leads[w][k] for k in range(n // ENDPOINTS) for w in range(ENDPOINTS)]
    for start in range(0, len(order), 100):
        with transaction.atomic():
            for lead in order[start : start + 100]:
                lead_set_status(lead=lead, status="Meeting Booked")


def checks(rx, n):
    """The invariants after a run; returns (figures, violations)."""
    violations = []
    received = rx.stats(ids=True)
    posts = received["posts"]
    rows = {
        event_id: (status, attempt_count, attempts)
        for event_id, status, attempt_count, attempts in Delivery.objects.annotate(
            rows=Count("attempts")
        ).values_list("event_id", "status", "attempt_count", "rows")
    }
    for event_id, (status, attempt_count, attempts) in rows.items():
        if status != Delivery.Status.SUCCEEDED:
            violations.append(f"{event_id}: status {status}")
        if attempt_count != attempts:
            violations.append(f"{event_id}: attempt_count {attempt_count} != {attempts} attempt rows")
        if attempts < posts.get(event_id, 0):
            violations.append(f"{event_id}: {posts[event_id]} POSTs received, {attempts} attempt rows")
    unknown = set(posts) - set(rows)
    if unknown:
        violations.append(f"{len(unknown)} webhook-ids received that match no delivery")
    if len(rows) != n:
        violations.append(f"{len(rows)} deliveries, expected {n}")
    attempts = DeliveryAttempt.objects.aggregate(
        total=Count("pk"),
        worker_lost=Count("pk", filter=Q(error_class="WorkerLost")),
        still_in_progress=Count("pk", filter=Q(in_progress=True)),
    )
    figures = {
        "posts_received": received["count"],
        "distinct_ids_received": len(posts),
        "duplicates": sum(count - 1 for count in posts.values()),
        "deliveries_with_2_or_more_attempts": sum(1 for _, count, _ in rows.values() if count > 1),
        "attempt_rows": attempts["total"],
        "worker_lost_rows": attempts["worker_lost"],
        "rows_still_in_progress": attempts["still_in_progress"],
        "violations": len(violations),
    }
    return figures, violations


def run(rx, args, run_number, kill):
    backlog_commit(rx, args.n, run_number)
    rx.reset()
    beat = le.ProcfileBeat(name=f"p10-{run_number}-beat")
    workers = [le.ProcfileWorker(name=f"p10-{run_number}")]
    started = workers[0].started
    figures = {"run": "kill" if kill else "no_kill", "deliveries": args.n}
    try:
        if kill:
            while rx.stats()["count"] < args.kill_at:
                if time.time() - started > 120:
                    raise RuntimeError("the kill point was never reached")
                time.sleep(0.005)
            workers[0].kill()
            killed_at = time.time()
            received_at_kill = rx.stats()["count"]
            in_flight_at_kill = Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT).count()
            workers.append(le.ProcfileWorker(name=f"p10-{run_number}-restarted"))
            figures.update(
                killed_after_s=round(killed_at - started, 2),
                posts_received_at_kill=received_at_kill,
                in_flight_rows_at_kill=in_flight_at_kill,
                succeeded_at_kill=Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count(),
            )
        deadline = time.time() + 300
        while Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count() < args.n:
            if time.time() > deadline:
                break
            time.sleep(0.1)
        finished = time.time()
        figures["all_succeeded_after_s"] = round(finished - started, 2)
        if kill:
            figures["after_the_kill_s"] = round(finished - killed_at, 2)
        time.sleep(0.5)  # let any straggling duplicate land before the receiver is read
        found, violations = checks(rx, args.n)
        figures.update(found)
    finally:
        for worker in workers:
            worker.stop()
        beat.stop()
    print_json_line(what="recovery", **figures)
    for violation in violations[:20]:
        print(f"VIOLATION {violation}")
    if len(violations) > 20:
        print(f"VIOLATION … and {len(violations) - 20} more")
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--kill-at", type=int, default=300, help="POSTs received before the SIGKILL")
    parser.add_argument("--delay", type=float, default=0.2, help="the receiver's answer delay (s)")
    args = parser.parse_args()
    le.database_prepare()
    print(
        f"# P10 recovery · n={args.n} over {ENDPOINTS} endpoints · receiver {args.delay}s · kill at "
        f"{args.kill_at} · lease {settings.WEBHOOK_LEASE_SECONDS}s · sweep every "
        f"{settings.WEBHOOK_SWEEP_INTERVAL_SECONDS}s · worker "
        f"{' '.join(le.procfile_command('worker')[1:])} + beat "
        f"· load {os.getloadavg()[0]:.1f} · {machine()}"
    )
    with receiver(port=8120, delay=args.delay) as rx:
        calm = run(rx, args, 0, kill=False)
        killed = run(rx, args, 1, kill=True)
    print_json_line(
        what="P10 ratio",
        added_s=round(killed["all_succeeded_after_s"] - calm["all_succeeded_after_s"], 2),
        duplicates=killed["duplicates"],
        violations=calm["violations"] + killed["violations"],
        goal="added_s <= 30, no violation (duplicates allowed)",
    )


if __name__ == "__main__":
    main()
