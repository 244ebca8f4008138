"""P1 — outbound throughput: N status changes → deliveries to the local receiver, one worker.

The worker is started as the Procfile's `worker` line (prefork, one child per core).

Live (the goal's definition): the worker runs while each change commits on its own;
deliveries/s from first commit to last receipt. Backlog: the changes are committed first
(100 per transaction) and then the worker drains them (how the peer is measured).
Same run: the ceiling (one process posting the same signed bodies with a plain
requests.Session loop) and the peer (django-webhook, one solo worker, same receiver).
Prints JSON lines of figures, then the ratios LAST.

    .venv/bin/python bench/p1_outbound.py [--n 10000] [--per-commit 1] [--skip-peer] [--skip-live]
"""

import argparse
import time

import le
from harness import ceiling_plain_session, machine, print_json_line, ratio, receiver
from peer_run import measure_peer

from leads.services import lead_set_status
from webhooks.outbound.models import Delivery


def status_changes_commit(leads, per_commit):
    from django.db import transaction

    for start in range(0, len(leads), per_commit):
        with transaction.atomic():
            for lead in leads[start : start + per_commit]:
                lead_set_status(lead=lead, status="Meeting Booked")


def run_ours(rx, *, n, workers=1, per_commit=1, webhooks=1, backlog=False, on_worker=None):
    """Deliveries/s of LeadEngine: N/webhooks status changes, each fanning out to `webhooks`.

    Live (default): the worker runs while the changes commit; throughput is first commit →
    last receipt. Backlog: every change is committed first (tasks queue in Redis), then the
    workers start; this is how the peer is measured, so its drain rate is the fair comparison.
    """
    workspace = le.workspace_reset()
    leads = le.leads_create(workspace, n // webhooks)
    le.webhooks_create(workspace, rx.hook_url, webhooks)
    running = []
    try:
        if not backlog:
            running = [le.ProcfileWorker(name=f"p1-{index}").wait_ready() for index in range(workers)]
        rx.reset()
        started = time.time()
        status_changes_commit(leads, per_commit)
        committed = time.time()
        if backlog:
            running = [le.ProcfileWorker(name=f"p1-{index}") for index in range(workers)]
        stats = rx.wait_for(n, timeout=max(120, n / 20))
        if on_worker:
            on_worker(running, stats)
        deadline = time.time() + 30  # received is not yet recorded: let the last group land
        while le.deliveries_done() < n and time.time() < deadline:
            time.sleep(0.05)
    finally:
        for worker in running:
            worker.stop()
    succeeded = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count()
    assert succeeded == n, f"{succeeded} of {n} deliveries succeeded"
    return {
        "deliveries": n,
        "commit_rate": len(leads) / (committed - started),
        "end_to_end": n / (stats["last"] - started),
        "drain": n / (stats["last"] - stats["first"]),
    }


def bodies_of_last_run():
    return [bytes(payload) for payload in Delivery.objects.order_by("pk").values_list("payload", flat=True)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="deliveries (≥ 10,000 for the record)")
    parser.add_argument("--per-commit", type=int, default=1, help="status changes per transaction")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--skip-live", action="store_true", help="only the backlog drain and the ceiling")
    parser.add_argument(
        "--idle-webhooks", type=int, default=0, help="other workspaces' webhooks with nothing to send"
    )
    args = parser.parse_args()
    le.database_prepare()
    le.idle_webhooks_create(args.idle_webhooks)
    print(
        f"# P1 outbound throughput · n={args.n} · per-commit={args.per_commit}"
        f" · {args.idle_webhooks} idle webhooks · {machine()}"
    )
    with receiver() as rx:
        ours = {"end_to_end": float("nan")}
        if not args.skip_live:
            ours = run_ours(rx, n=args.n, per_commit=args.per_commit)
            print_json_line(what="leadengine_live", **{k: round(v, 1) for k, v in ours.items()})
        # The peer's method: everything queued first, then one worker drains it.
        backlog = run_ours(rx, n=args.n, per_commit=100, backlog=True)
        print_json_line(what="leadengine_backlog", **{k: round(v, 1) for k, v in backlog.items()})
        ceiling = ceiling_plain_session(rx, bodies_of_last_run())
        print_json_line(what="ceiling_plain_session", deliveries_per_s=round(ceiling, 1))
        peer = float("nan") if args.skip_peer else measure_peer(rx, args.n)
        print_json_line(what="peer_django_webhook", deliveries_per_s=round(peer, 1))
    print_json_line(
        what="P1 ratios",
        vs_ceiling=round(ratio(ours["end_to_end"], ceiling), 2),
        backlog_drain_vs_ceiling=round(ratio(backlog["drain"], ceiling), 2),
        vs_peer=round(ratio(ours["end_to_end"], peer), 2),
        backlog_drain_vs_peer=round(ratio(backlog["drain"], peer), 2),
        goal="vs_ceiling >= 0.8 and vs_peer >= 3",
    )


if __name__ == "__main__":
    main()
