"""P1 live with several producers: status changes committed by K processes at once (as K
gunicorn workers would), each change in its own transaction, while one worker (started as
the Procfile's `worker` line) delivers them to the local receiver.

Figure: deliveries/s from first commit to last receipt, and the producers' own commit rate.
Same run: the ceiling of P1 (one process posting the same signed bodies with a plain
requests.Session loop). Prints JSON lines, the ratio LAST.

    .venv/bin/python bench/p1_live_producers.py [--n 4000] [--producers 4]
"""

import argparse
import multiprocessing
import time

import le
from django.db import connection
from harness import ceiling_plain_session, machine, print_json_line, ratio, receiver

from leads.models import Lead
from leads.services import lead_set_status
from webhooks.outbound.models import Delivery


def produce(lead_ids, start_at, results):
    """One producer process: wait for the common start, then one change per transaction."""
    connection.close()  # never share the parent's connection across fork
    while time.time() < start_at:
        time.sleep(0.001)
    first = time.time()
    for lead in Lead.objects.filter(pk__in=lead_ids).order_by("pk"):
        lead_set_status(lead=lead, status="Meeting Booked")
    results.put((first, time.time(), len(lead_ids)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--producers", type=int, default=4)
    args = parser.parse_args()
    le.database_prepare()
    print(f"# P1 live · {args.n} changes · {args.producers} producer processes · {machine()}")
    with receiver() as rx:
        workspace = le.workspace_reset()
        leads = le.leads_create(workspace, args.n)
        le.webhooks_create(workspace, rx.hook_url, 1)
        worker = le.ProcfileWorker(name="p1-live").wait_ready()
        try:
            rx.reset()
            ids = [lead.pk for lead in leads]
            shards = [ids[index :: args.producers] for index in range(args.producers)]
            connection.close()
            results = multiprocessing.Queue()
            start_at = time.time() + 1.0
            processes = [
                multiprocessing.Process(target=produce, args=(shard, start_at, results)) for shard in shards
            ]
            for process in processes:
                process.start()
            finished = [results.get(timeout=600) for _ in processes]
            for process in processes:
                process.join()
            stats = rx.wait_for(args.n, timeout=max(120, args.n / 20))
        finally:
            worker.stop()
        first = min(first for first, _, _ in finished)
        committed = max(last for _, last, _ in finished)
        succeeded = Delivery.objects.filter(status=Delivery.Status.SUCCEEDED).count()
        ours = {
            "deliveries": args.n,
            "succeeded": succeeded,
            "commit_rate": round(args.n / (committed - first), 1),
            "end_to_end": round(args.n / (stats["last"] - first), 1),
        }
        print_json_line(what="leadengine_live_multi_producer", producers=args.producers, **ours)
        bodies = [
            bytes(payload) for payload in Delivery.objects.order_by("pk").values_list("payload", flat=True)
        ]
        ceiling = ceiling_plain_session(rx, bodies)
        print_json_line(what="ceiling_plain_session", deliveries_per_s=round(ceiling, 1))
    print_json_line(
        what="P1 live ratio",
        producers=args.producers,
        vs_ceiling=round(ratio(ours["end_to_end"], ceiling), 2),
        goal="vs_ceiling >= 0.8",
    )


if __name__ == "__main__":
    main()
