"""One probe of the A/B script: backlog drain (one doorbell per status change) and P2 latency."""

import sys

import le
from harness import print_json_line, receiver
from p1_outbound import run_ours
from p2_latency import percentiles, status_change_latencies

n = int(sys.argv[1])
le.database_prepare()
with receiver() as rx:
    drain = run_ours(rx, n=n, per_commit=1, backlog=True)["drain"]
    workspace = le.workspace_reset()
    leads = le.leads_create(workspace, 200)
    le.webhooks_create(workspace, rx.hook_url, 1)
    worker = le.Worker(name="ab").wait_ready()
    try:
        rx.reset()
        latency = percentiles(status_change_latencies(rx, leads, 20))
    finally:
        worker.stop()
print_json_line(backlog_drain_per_s=round(drain, 1), **{f"latency_{k}_ms": v for k, v in latency.items()})
