"""P4b — a bulk status change (10,000 leads × 1 matching webhook, ONE `leads_set_status`
call) against single changes (`lead_set_status` per lead), in leads per second.

In this process, on the bench database and broker (no worker runs: the doorbell tasks are
published to Redis and flushed afterwards). Every change writes its delivery with its payload
snapshot. Ratio printed LAST.

    .venv/bin/python bench/p4b_bulk_status.py [--leads 10000] [--singles 1000] [--rounds 3]
"""

import argparse
import statistics
import time

import le
from harness import machine, print_json_line, ratio

from leadengine.models import Workspace
from leads.models import Lead
from leads.services import lead_set_status, leads_set_status
from webhooks.outbound.models import Delivery

STATUSES = ["Meeting Booked", "Follow Up"]


def workspace_with(slug, leads):
    Workspace.objects.filter(slug=slug).delete()
    workspace = Workspace.objects.create(name=slug, slug=slug)
    created = le.leads_create(workspace, leads, prefix=slug)
    le.webhooks_create(workspace, "http://127.0.0.1:9/hook", 1)
    return created


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000, help="leads of the bulk call")
    parser.add_argument("--singles", type=int, default=1000, help="single changes timed per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    le.database_prepare()
    le.workspace_reset()
    print(
        f"# P4b bulk status change · {args.leads} leads × 1 webhook vs {args.singles} singles · {machine()}"
    )
    bulk_leads = workspace_with("p4b-bulk", args.leads)
    single_leads = workspace_with("p4b-single", args.singles)
    for lead in single_leads[:50]:  # warm-up (imports, statements)
        lead_set_status(lead=lead, status="Opportunity")
    bulk_rates, single_rates = [], []
    for index in range(args.rounds):
        status = STATUSES[index % 2]
        leads = list(Lead.objects.filter(workspace=bulk_leads[0].workspace).only("id", "workspace_id"))
        before = Delivery.objects.count()
        started = time.perf_counter()
        changed = leads_set_status(leads=leads, status=status)
        bulk_s = time.perf_counter() - started
        assert len(changed) == args.leads and Delivery.objects.count() - before == args.leads
        bulk_rates.append(args.leads / bulk_s)
        started = time.perf_counter()
        for lead in single_leads:
            lead_set_status(lead=lead, status=status)
        single_rates.append(args.singles / (time.perf_counter() - started))
        le.database_prepare()  # drop the queued doorbells
    bulk, single = statistics.median(bulk_rates), statistics.median(single_rates)
    print_json_line(
        what="bulk_leads_per_s", median=round(bulk, 1), rounds=[round(rate, 1) for rate in bulk_rates]
    )
    print_json_line(
        what="single_leads_per_s", median=round(single, 1), rounds=[round(rate, 1) for rate in single_rates]
    )
    print_json_line(what="P4b ratio", bulk_vs_single=round(ratio(bulk, single), 2), goal=">= 20")


if __name__ == "__main__":
    main()
