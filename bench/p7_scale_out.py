"""P7 — scale-out: P1's backlog drain with 1 vs 2 workers (each started as the Procfile does).

Every status change is committed first (one doorbell task each, queued in Redis), then the
workers start; deliveries/s from first to last receipt. Ratio printed LAST.

    .venv/bin/python bench/p7_scale_out.py [--n 10000] [--webhooks 1]

With `--webhooks K` each change fans out to K endpoints (N deliveries in all): one endpoint
is bound by its in-flight cap whatever the number of workers; several show the machine's.
"""

import argparse

import le
from harness import machine, print_json_line, ratio, receiver
from p1_outbound import run_ours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--per-commit", type=int, default=100)
    parser.add_argument("--webhooks", type=int, default=1, help="endpoints each change goes to")
    args = parser.parse_args()
    le.database_prepare()
    print(
        f"# P7 scale-out · n={args.n} · {args.webhooks} endpoint(s) · per-commit={args.per_commit}"
        f" · {machine()}"
    )
    with receiver() as rx:
        one = run_ours(
            rx, n=args.n, workers=1, per_commit=args.per_commit, webhooks=args.webhooks, backlog=True
        )
        print_json_line(what="one_worker", drain=round(one["drain"], 1))
        two = run_ours(
            rx, n=args.n, workers=2, per_commit=args.per_commit, webhooks=args.webhooks, backlog=True
        )
        print_json_line(what="two_workers", drain=round(two["drain"], 1))
    print_json_line(what="P7 ratio", two_vs_one=round(ratio(two["drain"], one["drain"]), 2), goal=">= 1.7")


if __name__ == "__main__":
    main()
