"""P6 — worker memory: RSS of one solo worker after a warm-up vs after `--n` more deliveries.

Status changes fan out to `--webhooks` webhooks each (10 by default, so 100k deliveries are
10k status changes), committed `--per-commit` to a transaction while the worker runs.
Ratio printed LAST.

    .venv/bin/python bench/p6_memory.py [--n 100000] [--warmup 5000]
"""

import argparse
import time

import le
from harness import machine, print_json_line, ratio, receiver
from p1_outbound import status_changes_commit


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="deliveries after the warm-up")
    parser.add_argument("--warmup", type=int, default=5_000, help="warm-up deliveries")
    parser.add_argument("--webhooks", type=int, default=10)
    parser.add_argument("--per-commit", type=int, default=50)
    args = parser.parse_args()
    le.database_prepare()
    print(f"# P6 worker memory · warm-up {args.warmup} + {args.n} deliveries · {machine()}")
    with receiver() as rx:
        workspace = le.workspace_reset()
        leads = le.leads_create(workspace, (args.warmup + args.n) // args.webhooks)
        le.webhooks_create(workspace, rx.hook_url, args.webhooks)
        worker = le.Worker(name="p6").wait_ready()
        try:
            rx.reset()
            warm = args.warmup // args.webhooks
            status_changes_commit(leads[:warm], args.per_commit)
            rx.wait_for(warm * args.webhooks)
            rss_warm = worker.rss_kib()
            started = time.time()
            status_changes_commit(leads[warm:], args.per_commit)
            stats = rx.wait_for(len(leads) * args.webhooks, timeout=3600)
            time.sleep(0.5)
            rss_after = worker.rss_kib()
        finally:
            worker.stop()
    delivered = len(leads) * args.webhooks - warm * args.webhooks
    print_json_line(what="rss_after_warmup_kib", value=rss_warm, deliveries=warm * args.webhooks)
    print_json_line(
        what="rss_after_run_kib",
        value=rss_after,
        deliveries=delivered,
        seconds=round(stats["last"] - started, 1),
        deliveries_per_s=round(delivered / (stats["last"] - started), 1),
    )
    print_json_line(
        what="P6 ratio",
        rss_after_vs_warmup=round(ratio(rss_after, rss_warm), 3),
        growth_kib=rss_after - rss_warm,
        goal="no growth beyond noise",
    )


if __name__ == "__main__":
    main()
