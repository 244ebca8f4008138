"""P12 — a graceful stop: SIGTERM to the Procfile worker, idle and busy; how long until it exits?

A deploy (systemd, Heroku, `docker stop`) sends SIGTERM to every process of the worker and
kills what is left after its grace period (often 10 s). Idle: the worker is started and told
to stop. Busy: `--n` deliveries over 20 endpoints whose receiver answers after `--delay` s
are committed while the worker runs; at `--stop-at` POSTs received, the whole process group
gets SIGTERM. Printed: seconds to exit, requests in flight at the signal, and what the
database holds after (deliveries still in flight, attempts left open or closed as WorkerLost:
all 0 when every request in flight was finished and recorded). Exit seconds LAST.

    .venv/bin/python bench/p12_graceful_stop.py [--n 2000] [--delay 0.2] [--stop-at 300]
"""

import argparse
import os
import signal
import time

import le
from django.db import transaction
from harness import machine, print_json_line, receiver

from leads.services import lead_set_status
from webhooks.outbound.models import Delivery, DeliveryAttempt

ENDPOINTS = 20
GRACE_SECONDS = 60  # the bench waits this long before it SIGKILLs (a deploy's grace is shorter)


def stop_and_time(worker):
    """SIGTERM the worker's process group; seconds until the main process exited."""
    started = time.monotonic()
    os.killpg(worker.process.pid, signal.SIGTERM)
    try:
        worker.process.wait(GRACE_SECONDS)
    except Exception:
        os.killpg(worker.process.pid, signal.SIGKILL)
        return None
    return round(time.monotonic() - started, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--stop-at", type=int, default=300)
    args = parser.parse_args()
    le.database_prepare()
    print(f"# P12 graceful stop · {args.n} deliveries, {args.delay} s receivers · {machine()}")
    with receiver(delay=args.delay) as rx:
        workspace = le.workspace_reset()
        idle = stop_and_time(le.ProcfileWorker(name="p12-idle").wait_ready())
        leads = le.leads_create(workspace, args.n // ENDPOINTS)
        le.webhooks_create(workspace, rx.hook_url, ENDPOINTS)
        worker = le.ProcfileWorker(name="p12-busy").wait_ready()
        rx.reset()
        for start in range(0, len(leads), 10):
            with transaction.atomic():
                for lead in leads[start : start + 10]:
                    lead_set_status(lead=lead, status="Meeting Booked")
        rx.wait_for(args.stop_at)
        in_flight = Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT).count()
        busy = stop_and_time(worker)
        attempts = DeliveryAttempt.objects.filter(delivery__webhook__workspace=workspace)
        print_json_line(
            what="after_the_stop",
            in_flight_at_sigterm=in_flight,
            posts_received=rx.stats()["count"],
            deliveries_still_in_flight=Delivery.objects.filter(status=Delivery.Status.IN_FLIGHT).count(),
            attempts_left_open=attempts.filter(in_progress=True).count(),
            worker_lost_attempts=attempts.filter(error_class="WorkerLost").count(),
            succeeded=Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count(),
            left_pending_for_the_next_worker=Delivery.objects.filter(status=Delivery.Status.PENDING).count(),
        )
    le.database_prepare()  # drop the queued doorbells
    print_json_line(what="P12 exit seconds", idle=idle, busy=busy, goal="busy exits within a 10 s grace")


if __name__ == "__main__":
    main()
