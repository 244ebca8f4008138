"""P4 — cost of a status change with 10 matching webhooks vs with none.

Time per committed `lead_set_status` call, in this process, on the bench database and broker
(no worker runs: the doorbell tasks are published to Redis and flushed afterwards).
The two workspaces alternate in rounds so machine noise hits both. Ratio printed LAST.

    .venv/bin/python bench/p4_status_cost.py [--calls 1000] [--rounds 5] [--webhooks 10]
"""

import argparse
import statistics
import time

import le
from harness import machine, print_json_line, ratio

from leadengine.models import Workspace
from leads.services import lead_set_status


def workspace_with(slug, leads, webhooks):
    Workspace.objects.filter(slug=slug).delete()
    workspace = Workspace.objects.create(name=slug, slug=slug)
    created = le.leads_create(workspace, leads, prefix=slug)
    le.webhooks_create(workspace, "http://127.0.0.1:9/hook", webhooks)
    return created


def time_per_call(leads, status):
    started = time.perf_counter()
    for lead in leads:
        lead_set_status(lead=lead, status=status)
    return (time.perf_counter() - started) / len(leads) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="status changes per configuration")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--webhooks", type=int, default=10)
    args = parser.parse_args()
    le.database_prepare()
    le.workspace_reset()
    print(f"# P4 status-change cost · {args.calls} calls each · {machine()}")
    per_round = args.calls // args.rounds
    with_hooks = workspace_with("p4-hooks", per_round, args.webhooks)
    without = workspace_with("p4-none", per_round, 0)
    time_per_call(with_hooks[:50], "Opportunity")  # warm-up (imports, statements)
    time_per_call(without[:50], "Opportunity")
    hooks_ms, none_ms = [], []
    for index in range(args.rounds):
        status = ["Meeting Booked", "Follow Up"][index % 2]
        hooks_ms.append(time_per_call(with_hooks, status))
        none_ms.append(time_per_call(without, status))
    le.database_prepare()  # drop the queued doorbells
    hooks, none = statistics.median(hooks_ms), statistics.median(none_ms)
    print_json_line(
        what="ms_per_call_with_webhooks", median=round(hooks, 3), rounds=[round(x, 3) for x in hooks_ms]
    )
    print_json_line(what="ms_per_call_without", median=round(none, 3), rounds=[round(x, 3) for x in none_ms])
    print_json_line(
        what="P4 ratio", with_vs_without=round(ratio(hooks, none), 2), goal="<= 2", webhooks=args.webhooks
    )


if __name__ == "__main__":
    main()
