"""P2 — latency at light load: status change commit → receiver, next to a bare Celery round trip.

~`--rate` events/s for `--seconds` s with one worker started as the Procfile does.
The reference is `leadengine.ping`
(a no-op task that writes a file): enqueue → file written, measured the same way (wall clock
of this process vs the receiver's / the file's timestamps). Ratio printed LAST.

    .venv/bin/python bench/p2_latency.py [--rate 20] [--seconds 15]
"""

import argparse
import os
import statistics
import tempfile
import time

import le
from harness import machine, print_json_line, ratio, receiver

from config.celery import ping
from leads.services import lead_set_status

WARM_UP = 20


def percentiles(samples_ms):
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {"p50": round(cuts[49], 2), "p95": round(cuts[94], 2), "p99": round(cuts[98], 2)}


def paced(count, rate):
    """Yield `count` times at `rate` per second (absolute schedule, no drift)."""
    start = time.perf_counter()
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield index


def ping_round_trips(count, rate):
    folder = tempfile.mkdtemp(prefix="p2-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    sent = {}
    for index in paced(count, rate):
        path = os.path.join(folder, str(index))
        sent[path] = time.time()
        ping.delay(path)
    deadline = time.monotonic() + 60
    while not all(os.path.exists(path) for path in sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    return [(os.stat(path).st_mtime - at) * 1000 for path, at in sent.items()]


def status_change_latencies(rx, leads, rate):
    committed = {}
    statuses = ["Meeting Booked", "Opportunity"]
    for index in paced(len(leads), rate):
        event = lead_set_status(lead=leads[index], status=statuses[index % 2])
        committed[str(event.event_id)] = time.time()  # lead_set_status is atomic: committed now
    rx.wait_for(len(leads), timeout=60)
    arrivals = rx.stats(ids=True)["arrivals"]
    return [(arrivals[event_id] - at) * 1000 for event_id, at in committed.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    le.database_prepare()
    print(f"# P2 latency · {count} events at {args.rate}/s · {machine()}")
    with receiver() as rx:
        workspace = le.workspace_reset()
        leads = le.leads_create(workspace, count + WARM_UP)
        le.webhooks_create(workspace, rx.hook_url, 1)
        worker = le.ProcfileWorker(name="p2").wait_ready()
        try:
            # Warm-up of both paths: each prefork child's first delivery also starts its
            # sender threads and database connection, which no later one pays.
            ping_round_trips(WARM_UP, args.rate)
            status_change_latencies(rx, leads[:WARM_UP], args.rate)
            bare = percentiles(ping_round_trips(count, args.rate))
            rx.reset()
            ours = percentiles(status_change_latencies(rx, leads[WARM_UP:], args.rate))
        finally:
            worker.stop()
    print_json_line(what="bare_celery_round_trip_ms", **bare)
    print_json_line(what="status_change_to_receiver_ms", **ours)
    print_json_line(
        what="P2 ratios",
        p50=round(ratio(ours["p50"], bare["p50"]), 2),
        p99=round(ratio(ours["p99"], bare["p99"]), 2),
        goal="p99 <= 3x the bare round trip",
    )


if __name__ == "__main__":
    main()
