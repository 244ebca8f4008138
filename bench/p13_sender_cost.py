"""P13 — what one delivery costs the sender, in-process on the bench database.

A backlog over `--webhooks` endpoints is drained by `sender.deliveries_deliver()` in this
process (no Celery), against the bench receiver answering after `--delay` seconds. Prints
the drain rate, the statements the claiming thread ran per delivery, this process's CPU per
delivery and its PostgreSQL backend's CPU per delivery; then, as context, the round trip of
`SELECT 1` from this thread while 0 / 8 threads post to the receiver (the GIL's share).

    .venv/bin/python bench/p13_sender_cost.py [--n 2000] [--delay 0.2] [--webhooks 20]
"""

import argparse
import collections
import logging
import resource
import statistics
import threading
import time
from pathlib import Path

import le
from django.db import connection
from harness import machine, print_json_line, receiver
from p1_outbound import status_changes_commit

from webhooks.outbound import sender
from webhooks.outbound.http_client import webhook_post


def backend_cpu_seconds():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().split()  # the server runs on this machine
    return (int(fields[13]) + int(fields[14])) / 100


def process_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def drain(rx, n, webhooks):
    workspace = le.workspace_reset()
    leads = le.leads_create(workspace, n // webhooks)
    le.webhooks_create(workspace, rx.hook_url, webhooks)
    status_changes_commit(leads, 100)
    rx.reset()
    statements = collections.Counter()

    def count(execute, sql, params, many, context):
        statements[sql.split()[0].upper()] += 1
        return execute(sql, params, many, context)

    backend, own = backend_cpu_seconds(), process_cpu_seconds()
    started, done = time.perf_counter(), 0
    with connection.execute_wrapper(count):
        while done < n:
            done += sender.deliveries_deliver(window=120)
    wall = time.perf_counter() - started
    return {
        "deliveries": n,
        "drain": round(n / wall, 1),
        "statements_per_delivery": round(sum(statements.values()) / n, 2),
        "statements": dict(statements),
        "worker_cpu_ms_per_delivery": round((process_cpu_seconds() - own) / n * 1000, 3),
        "postgres_cpu_ms_per_delivery": round((backend_cpu_seconds() - backend) / n * 1000, 3),
    }


def round_trip_ms(rx, posting_threads, samples=500):
    """Median `SELECT 1` from this thread while `posting_threads` threads post to rx."""
    stop = threading.Event()

    def post():
        while not stop.is_set():
            webhook_post(url=rx.hook_url, body=b"{}", msg_id="msg_rtt", secrets=["whsec_" + "A" * 32])

    threads = [threading.Thread(target=post) for _ in range(posting_threads)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    times = []
    with connection.cursor() as cursor:
        for _ in range(samples):
            started = time.perf_counter()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    stop.set()
    for thread in threads:
        thread.join()
    return round(statistics.median(times) * 1000, 3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.2, help="receiver answer delay (s)")
    parser.add_argument("--webhooks", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # one shared host
    le.database_prepare()
    print(f"# P13 sender cost · n={args.n} · {args.webhooks} endpoints · delay {args.delay}s · {machine()}")
    with receiver(delay=args.delay) as rx:
        print_json_line(what="sender_in_process", **drain(rx, args.n, args.webhooks))
    with receiver() as rx:
        print_json_line(
            what="select_1_round_trip_ms",
            idle=round_trip_ms(rx, 0),
            with_8_posting_threads=round_trip_ms(rx, 8),
        )


if __name__ == "__main__":
    main()
