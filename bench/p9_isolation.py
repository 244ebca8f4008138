"""P9 — isolation: does one bad endpoint slow the healthy ones down?

10 healthy endpoints (10 workspaces, one webhook each, `/hook/<i>` of one receiver) get
`--rate` status changes/s, each its own transaction, for `--seconds` s; the latency of each
delivery is commit (the producer's clock, after `lead_set_status` returned) → arrival (the
receiver's clock, by webhook-id = event_id). One worker and beat, started as the Procfile does.

- Phase A: the healthy traffic alone.
- Phase B: the same, plus an 11th endpoint that is a hung server (accepts TCP, never answers;
  WEBHOOK_TIMEOUT_SECONDS applies) with `--bad-backlog` deliveries committed before the
  traffic starts and 1 change in 11 going to it during the traffic.
- Phase C: as B, but the 11th endpoint is dead (a port nobody listens on: refused).

Ratio LAST: healthy p99 in B / healthy p99 in A (goal ≤ 2), and C / A.

    .venv/bin/python bench/p9_isolation.py [--rate 20] [--seconds 20] [--bad-backlog 1000] [--delay 0]
"""

import argparse
import os
import signal
import socket
import statistics
import time

import le
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from harness import machine, print_json_line, ratio, receiver, stop

from leads.services import lead_set_status
from webhooks.outbound.models import Delivery, DeliveryAttempt, OutboundWebhook

HEALTHY = 10


def percentiles(samples_ms):
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {
        "p50": round(cuts[49], 1),
        "p95": round(cuts[94], 1),
        "p99": round(cuts[98], 1),
        "max": round(max(samples_ms), 1),
        "over_1s": sum(1 for sample in samples_ms if sample > 1000),
    }


def paced(count, rate):
    start = time.perf_counter()
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield index


def free_port():
    """A port nobody listens on (bound, then closed), checked to refuse connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the dead port answers"
    return port


def phase(name, rx, args, bad_url=None):
    """One phase on fresh workspaces and a fresh worker + beat; returns healthy latencies (ms)."""
    workspaces = le.workspaces_reset(f"p9{name.lower()}", HEALTHY + 1)
    per_healthy = int(args.rate * args.seconds) // HEALTHY + 1
    healthy_leads = []
    for index, workspace in enumerate(workspaces[:HEALTHY]):
        OutboundWebhook.objects.create(
            workspace=workspace, name=f"Healthy {index}", url=f"{rx.url}/hook/{index}"
        )
        healthy_leads.append(le.leads_create(workspace, per_healthy + 2, prefix=f"h{index}-"))
    bad_hook, bad_leads = None, []
    bad_traffic = int(args.rate * args.seconds) // HEALTHY if bad_url else 0
    if bad_url:
        bad_hook = OutboundWebhook.objects.create(workspace=workspaces[HEALTHY], name="Bad", url=bad_url)
        bad_leads = le.leads_create(workspaces[HEALTHY], args.bad_backlog + bad_traffic, prefix="bad-")
    worker, beat = le.ProcfileWorker(name=f"p9-{name}"), le.ProcfileBeat(name=f"p9-{name}-beat")
    try:
        worker.wait_ready()
        for index in range(HEALTHY):  # warm-up: one delivery per healthy endpoint
            lead_set_status(lead=healthy_leads[index][-1], status="Opportunity")
        rx.wait_for(HEALTHY, timeout=30)
        queued_at = time.time()
        for start in range(0, args.bad_backlog if bad_url else 0, 100):
            with transaction.atomic():
                for lead in bad_leads[start : start + 100]:
                    lead_set_status(lead=lead, status="Meeting Booked")
        queued_s = time.time() - queued_at
        rx.reset()
        # The schedule: healthy changes round-robin at `rate`/s; with a bad endpoint, one
        # extra change in 11 goes to it (the healthy rate is unchanged).
        plan = []
        for index in range(int(args.rate * args.seconds)):
            plan.append(healthy_leads[index % HEALTHY][index // HEALTHY])
            if bad_url and index % HEALTHY == HEALTHY - 1:
                plan.append(bad_leads[args.bad_backlog + index // HEALTHY])
        total_rate = args.rate * len(plan) / int(args.rate * args.seconds)
        committed = {}
        bad_ids = set()
        for index in paced(len(plan), total_rate):
            event = lead_set_status(lead=plan[index], status="Meeting Booked")
            at = time.time()  # lead_set_status is atomic: committed now
            if plan[index].workspace_id == workspaces[HEALTHY].pk:
                bad_ids.add(str(event.event_id))
            else:
                committed[str(event.event_id)] = at
        traffic_end = time.time()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            arrivals = rx.stats(ids=True)["arrivals"]
            if all(event_id in arrivals for event_id in committed):
                break
            time.sleep(0.2)
        missing = [event_id for event_id in committed if event_id not in arrivals]
        latencies = [
            (arrivals[event_id] - at) * 1000 for event_id, at in committed.items() if event_id in arrivals
        ]
        figures = {
            "phase": name,
            "healthy_deliveries": len(committed),
            "healthy_missing_after_60s": len(missing),
            **percentiles(latencies),
            "traffic_s": round(traffic_end - queued_at - queued_s, 1),
            "producer_rate": round(len(plan) / (traffic_end - queued_at - queued_s), 1),
        }
        if bad_hook:
            bad_hook.refresh_from_db()
            now = timezone.now()
            bad = Delivery.objects.filter(webhook=bad_hook).aggregate(
                total=Count("pk"),
                used_an_attempt=Count("pk", filter=Q(attempt_count__gt=0)),
                succeeded=Count("pk", filter=Q(status=Delivery.Status.SUCCEEDED)),
                in_flight=Count("pk", filter=Q(status=Delivery.Status.IN_FLIGHT)),
            )
            figures.update(
                bad_url=bad_url,
                bad_backlog_commit_s=round(queued_s, 1),
                bad_deliveries=bad["total"],
                bad_used_an_attempt=bad["used_an_attempt"],
                bad_in_flight_now=bad["in_flight"],
                bad_attempt_rows=DeliveryAttempt.objects.filter(delivery__webhook=bad_hook).count(),
                bad_consecutive_failures=bad_hook.consecutive_failures,
                bad_paused_until=bad_hook.paused_until,
                bad_paused_for_s=round((bad_hook.paused_until - now).total_seconds(), 1)
                if bad_hook.paused_until
                else None,
                bad_breaker=bad_hook.breaker_status(now),
            )
        print_json_line(what="healthy_commit_to_receipt_ms", **figures)
    finally:
        # SIGKILL: a warm shutdown would wait for the hung requests (one timeout each).
        stop(worker.process, signal.SIGKILL if bad_url else signal.SIGTERM)
        beat.stop()
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="healthy status changes/s")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bad-backlog", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.0, help="the healthy receiver's answer delay (s)")
    args = parser.parse_args()
    le.database_prepare()
    print(
        f"# P9 isolation · {HEALTHY} healthy endpoints · {args.rate}/s for {args.seconds}s · bad backlog "
        f"{args.bad_backlog} · timeout {settings.WEBHOOK_TIMEOUT_SECONDS}s · worker "
        f"{' '.join(le.procfile_command('worker')[1:])} + beat · load {os.getloadavg()[0]:.1f} · {machine()}"
    )
    with receiver(port=8110, delay=args.delay) as rx, receiver(port=8111, hang=True) as hung:
        a = phase("A", rx, args)
        b = phase("B", rx, args, bad_url=hung.hook_url)
        c = phase("C", rx, args, bad_url=f"http://127.0.0.1:{free_port()}/hook")
        hung_posts = hung.stats()["count"]
    print_json_line(what="hung_server", posts_received=hung_posts)
    print_json_line(
        what="P9 ratios",
        hung_p99_vs_alone=round(ratio(b["p99"], a["p99"]), 2),
        dead_p99_vs_alone=round(ratio(c["p99"], a["p99"]), 2),
        hung_p50_vs_alone=round(ratio(b["p50"], a["p50"]), 2),
        goal="healthy p99 with a hung endpoint <= 2x without",
    )


if __name__ == "__main__":
    main()
