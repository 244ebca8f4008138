"""P8 — the concurrent sender against slow receivers: N deliveries over 20 endpoints that each
answer after `--delay` seconds, one worker started as the Procfile does (prefork, 2 children).

The status changes are committed first (100 per transaction, one delivery each: 20 workspaces
with one webhook each, changes interleaved over them), then the worker starts and drains them;
deliveries/s from first receipt (and from worker start) to last receipt. Same run, same
receiver: the ceiling, a raw poster with the worker's total concurrency (processes ×
WEBHOOK_SENDER_CONCURRENCY threads, capped at endpoints × WEBHOOK_ENDPOINT_CONCURRENCY), a
requests.Session per thread, posting the same signed bodies to the same paths. Default run:
200 ms (n=2000), then 50 ms and 1 s (n=1000). Prints JSON lines, the ratios LAST.

    .venv/bin/python bench/p8_real_receivers.py [--delay 0.2 --n 2000] [--endpoints 20]
"""

import argparse
import os
import time

import le
from django.conf import settings
from django.db import transaction
from harness import ceiling_concurrent, machine, print_json_line, ratio, receiver

from leads.services import lead_set_status
from webhooks.outbound.models import Delivery, DeliveryAttempt, OutboundWebhook

STATUSES = ["Meeting Booked", "Opportunity"]


def backlog_commit(rx, n, endpoints, round_number):
    """20 workspaces × 1 webhook (`/hook/<i>`), n status changes interleaved over them,
    committed 100 per transaction (one doorbell each). Returns the webhooks."""
    workspaces = le.workspaces_reset("p8", endpoints)
    hooks, leads = [], []
    for index, workspace in enumerate(workspaces):
        hooks.append(
            OutboundWebhook.objects.create(
                workspace=workspace, name=f"P8 hook {index}", url=f"{rx.url}/hook/{index}"
            )
        )
        leads.append(le.leads_create(workspace, n // endpoints, prefix=f"p8w{index}r{round_number}-"))
    order = [leads[w][k] for k in range(n // endpoints) for w in range(endpoints)]
    for start in range(0, len(order), 100):
        with transaction.atomic():
            for lead in order[start : start + 100]:
                lead_set_status(lead=lead, status=STATUSES[round_number % 2])
    return hooks


def all_succeeded(n, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count()
        if done >= n:
            return done
        time.sleep(0.2)
    return Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count()


def run(delay, n, endpoints, round_number, port):
    processes = os.cpu_count()  # the prefork pool's default concurrency
    concurrency = min(
        processes * settings.WEBHOOK_SENDER_CONCURRENCY, endpoints * settings.WEBHOOK_ENDPOINT_CONCURRENCY
    )
    with receiver(port=port, delay=delay) as rx:
        backlog_commit(rx, n, endpoints, round_number)
        rx.reset()
        worker = le.ProcfileWorker(name=f"p8-{round_number}")
        try:
            stats = rx.wait_for(n, timeout=max(120, 5 * n * delay))
            succeeded = all_succeeded(n)
        finally:
            worker.stop()
        received = rx.stats(ids=True)
        ours = {
            "delay_s": delay,
            "deliveries": n,
            "from_worker_start": round(n / (stats["last"] - worker.started), 1),
            "drain": round(n / (stats["last"] - stats["first"]), 1),
            "worker_start_to_first_receipt_s": round(stats["first"] - worker.started, 2),
            "succeeded": succeeded,
            "posts_received": received["count"],
            "duplicates": received["count"] - len(received["posts"]),
            "attempt_rows": DeliveryAttempt.objects.count(),
        }
        print_json_line(what="leadengine_procfile_worker", **ours)
        posts = [
            (webhook_url, event_id, bytes(payload))
            for webhook_url, event_id, payload in Delivery.objects.order_by("pk").values_list(
                "webhook__url", "event_id", "payload"
            )
        ]
        ceiling = ceiling_concurrent(rx, posts, processes, concurrency // processes)
        print_json_line(
            what="ceiling_raw_poster",
            delay_s=delay,
            processes=processes,
            threads_each=concurrency // processes,
            deliveries_per_s=round(ceiling, 1),
            theoretical=round(concurrency / delay, 1),
        )
    return ratio(ours["drain"], ceiling), ratio(ours["from_worker_start"], ceiling)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, help="one run with this receiver delay (s)")
    parser.add_argument("--n", type=int, help="deliveries (default 2000 at 0.2 s, 1000 for the others)")
    parser.add_argument("--endpoints", type=int, default=20)
    args = parser.parse_args()
    runs = (
        [(args.delay, args.n or 2000)] if args.delay else [(0.2, args.n or 2000), (0.05, 1000), (1.0, 1000)]
    )
    le.database_prepare()
    print(
        f"# P8 slow receivers · {args.endpoints} endpoints · runs {runs} · worker: "
        f"{' '.join(le.procfile_command('worker')[1:])} (prefork, {os.cpu_count()} children × "
        f"{settings.WEBHOOK_SENDER_CONCURRENCY} threads, {settings.WEBHOOK_ENDPOINT_CONCURRENCY}/endpoint) · "
        f"load {os.getloadavg()[0]:.1f} · {machine()}"
    )
    ratios = {}
    for round_number, (delay, n) in enumerate(runs):
        drain_ratio, start_ratio = run(delay, n, args.endpoints, round_number, 8099 + round_number)
        key = f"{int(delay * 1000)}ms"
        ratios[f"vs_ceiling_{key}"] = round(drain_ratio, 2)
        ratios[f"from_worker_start_vs_ceiling_{key}"] = round(start_ratio, 2)
    print_json_line(what="P8 ratios", **ratios, goal="vs_ceiling (first → last receipt, both) >= 0.8")


if __name__ == "__main__":
    main()
