"""Run every benchmark (P1–P4, P6–P10) with its default size, one after the other.

Each script prints its own figures and its ratio LAST; this prints them in order and a
summary of the ratio lines at the end. P5 is not here: it is asserted in the test suite.

    .venv/bin/python bench/run_all.py [--quick]
"""

import argparse
import subprocess
import sys
import time

from harness import BENCH_DIR, machine

SCRIPTS = {
    "p1_outbound.py": [],
    "p2_latency.py": [],
    "p3_inbound.py": [],
    "p4_status_cost.py": [],
    "p4b_bulk_status.py": [],
    "p6_memory.py": [],
    "p7_scale_out.py": [],
    "p8_real_receivers.py": [],
    "p9_isolation.py": [],
    "p10_recovery.py": [],
}
QUICK = {
    "p1_outbound.py": ["--n", "2000"],
    "p2_latency.py": ["--seconds", "5"],
    "p3_inbound.py": ["--seconds", "3", "--leads", "2000"],
    "p4_status_cost.py": ["--calls", "200"],
    "p4b_bulk_status.py": ["--leads", "2000", "--singles", "200"],
    "p6_memory.py": ["--n", "5000", "--warmup", "1000"],
    "p7_scale_out.py": ["--n", "2000"],
    "p8_real_receivers.py": ["--delay", "0.2", "--n", "1000"],
    "p9_isolation.py": ["--seconds", "8", "--bad-backlog", "300"],
    "p10_recovery.py": ["--n", "600", "--kill-at", "200"],
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not for the record)")
    args = parser.parse_args()
    print(f"# {machine()}", flush=True)
    last_lines = []
    for script, default in SCRIPTS.items():
        options = QUICK[script] if args.quick else default
        started = time.monotonic()
        print(f"\n$ .venv/bin/python bench/{script} {' '.join(options)}".rstrip(), flush=True)
        output = subprocess.run(
            [sys.executable, str(BENCH_DIR / script), *options],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        print(output.stdout, end="", flush=True)
        if output.returncode:
            print(output.stderr[-3000:], flush=True)
        lines = output.stdout.strip().splitlines()
        last_lines.append(f"{script}: {lines[-1] if lines else 'FAILED'} ({time.monotonic() - started:.0f}s)")
    print("\n# Ratios")
    print("\n".join(last_lines))


if __name__ == "__main__":
    main()
