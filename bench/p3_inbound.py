"""P3 — inbound ingest through gunicorn, against a bare DRF view in the same server; P3b batches.

P3: `wrk` (keep-alive, `--connections`) POSTs a 10-field nested record (mapped to 10 fields,
upserted on business_email, every request a new lead) to the real endpoint, then the same body
to `/bench/insert` (the fair ceiling: a DRF view that parses the JSON and inserts one lead row
in its own transaction) and `/bench/bare` (parses and answers 201, no database: context);
both mounted only by the bench settings module `bench/inbound_app`. Same server, same run.
P3b: `--leads` leads as single posts, then as batches of 1,000 (Python threads, keep-alive),
then the same rows written by raw psycopg, one `INSERT … ON CONFLICT` per 1,000 rows on as
many connections as client threads (the ceiling of a batch). Ratios printed LAST.

    .venv/bin/python bench/p3_inbound.py [--seconds 10] [--connections 8] [--leads 10000]
"""

import argparse
import json
import re
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import le
import psycopg
import requests
from django.db import connection
from harness import BENCH_DIR, PYTHON, env_with, machine, print_json_line, ratio, start, stop

from leadengine.services import api_key_create
from leads.models import CustomField, Lead
from webhooks.inbound.models import FieldMapping, InboundWebhook

MAPPING = (
    ("first_name", "contact/first"),
    ("last_name", "contact/last"),
    ("business_email", "contact/email"),
    ("mobile_phone", "contact/phone"),
    ("city", "address/city"),
    ("state", "address/state"),
    ("country", "address/country"),
    ("company_name", "company/name"),
    ("job_title", "company/title"),
    ("source_tool", "meta/source"),  # a custom field
)


def record(run, index):
    return {
        "contact": {
            "first": "Ada",
            "last": "Lovelace",
            "email": f"{run}-{index}@example.com",
            "phone": "+44 20 7946 0000",
        },
        "address": {"city": "London", "state": "Greater London", "country": "UK"},
        "company": {"name": "Analytical Engines", "title": "Engineer"},
        "meta": {"source": "p3b"},
    }


def raw_insert_columns(workspace, run, count):
    """The rows a batch writes (the 10 mapped fields, the rest at their defaults) as one
    list of values per column, adapted for psycopg exactly as Django would; and the types."""
    fields = [field for field in Lead._meta.concrete_fields if not field.primary_key]
    leads = []
    for index in range(count):
        data = record(run, index)
        leads.append(
            Lead(
                workspace=workspace,
                first_name=data["contact"]["first"],
                last_name=data["contact"]["last"],
                business_email=data["contact"]["email"],
                mobile_phone=data["contact"]["phone"],
                city=data["address"]["city"],
                state=data["address"]["state"],
                country=data["address"]["country"],
                company_name=data["company"]["name"],
                job_title=data["company"]["title"],
                custom_fields={"source_tool": data["meta"]["source"]},
            )
        )
    columns = {
        field.column: (
            field.db_type(connection),
            [field.get_db_prep_save(field.pre_save(lead, True), connection) for lead in leads],
        )
        for field in fields
    }
    return columns


def raw_ceiling(workspace, count, threads):
    """Seconds to write `count` rows as one INSERT … ON CONFLICT DO UPDATE per 1,000 rows
    (`INSERT … SELECT * FROM unnest(<one array per column>)`: one parameter per column, so
    psycopg spends nothing splitting a 65,000-placeholder query), each in its own
    transaction, on `threads` psycopg connections at once."""
    columns = raw_insert_columns(workspace, "raw", count)
    updated = [c for c in columns if c not in ("workspace_id", "business_email", "created_date")]
    sql = (
        f"INSERT INTO leads_lead ({', '.join(columns)}) SELECT * FROM unnest("
        + ", ".join(f"%s::{db_type}[]" for db_type, _values in columns.values())
        + ") ON CONFLICT (workspace_id, business_email) WHERE NOT (business_email = '') DO UPDATE SET "
        + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
    )
    chunks = [
        [values[start : start + 1000] for _db_type, values in columns.values()]
        for start in range(0, count, 1000)
    ]
    dsn = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}

    def write(chunk):
        with psycopg.connect(**dsn) as raw:
            raw.execute(sql, chunk)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, chunks))
    return time.perf_counter() - started


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn(port, workers):
    env = env_with(
        DJANGO_SETTINGS_MODULE="inbound_app.settings",
        PYTHONPATH=str(BENCH_DIR),
        INBOUND_RATE_LIMIT_PER_MINUTE=10**9,
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
    )
    args = [PYTHON, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    args += ["--workers", str(workers), "--worker-class", "sync", "--keep-alive", "30"]
    process = start(args, env=env, log=BENCH_DIR / "gunicorn.log")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/bench/bare", timeout=10)
            return process
        except requests.RequestException:  # not listening yet, or a worker still importing
            time.sleep(0.1)
    stop(process)
    raise RuntimeError("gunicorn did not start, see bench/gunicorn.log")


def wrk(url, seconds, connections, key="", run="r"):
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(BENCH_DIR / "post.lua"),
            url,
            "--",
            key,
            run,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def post_all(url, key, bodies, threads):
    local = __import__("threading").local()

    def send(body):
        session = (
            getattr(local, "session", None) or setattr(local, "session", requests.Session()) or local.session
        )
        response = session.post(
            url,
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=120,
        )
        assert response.status_code in (200, 201), response.text[:300]

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, bodies))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--leads", type=int, default=10_000, help="P3b leads")
    parser.add_argument("--threads", type=int, default=4, help="P3b client threads")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    le.database_prepare()
    workspace = le.workspace_reset()
    CustomField.objects.create(workspace=workspace, key="source_tool", label="Source tool", type="text")
    webhook = InboundWebhook.objects.create(workspace=workspace, name="Bench form")
    FieldMapping.objects.bulk_create(
        FieldMapping(webhook=webhook, field=field, source_path=path) for field, path in MAPPING
    )
    _, key = api_key_create(workspace=workspace, name="bench")
    print(
        f"# P3 inbound · gunicorn {args.workers} sync workers · wrk -c{args.connections} "
        f"{args.seconds}s · P3b {args.leads} leads · {machine()}"
    )
    port = free_port()
    server = gunicorn(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        insert_url = f"{base}/bench/insert?workspace={workspace.pk}"
        wrk(f"{base}/bench/bare", 2, args.connections)  # warm-up
        wrk(insert_url, 2, args.connections)
        wrk(f"{base}/webhooks/{webhook.public_id}", 2, args.connections, key, "warm")
        le.tables_analyze()  # after the warm-ups' inserts
        bare = wrk(f"{base}/bench/bare", args.seconds, args.connections)
        insert = wrk(insert_url, args.seconds, args.connections)
        le.tables_analyze()  # after the insert view's rows
        before = Lead.objects.filter(workspace=workspace).count()
        inbound = wrk(f"{base}/webhooks/{webhook.public_id}", args.seconds, args.connections, key, "p3")
        created = Lead.objects.filter(workspace=workspace).count() - before
        print_json_line(what="bare_drf_view", **bare)
        print_json_line(what="insert_one_row_view", **insert)
        print_json_line(what="inbound_endpoint", leads_created=created, **inbound)

        url = f"{base}/webhooks/{webhook.public_id}"
        le.tables_analyze()  # after P3's inserts, as autovacuum would
        singles = [json.dumps(record("single", index)) for index in range(args.leads)]
        single_s = post_all(url, key, singles, args.threads)
        batches = [
            json.dumps([record("batch", index) for index in range(start, min(start + 1000, args.leads))])
            for start in range(0, args.leads, 1000)
        ]
        le.tables_analyze()
        batch_s = post_all(url, key, batches, min(args.threads, len(batches)))
        assert Lead.objects.filter(business_email__startswith="batch-").count() == args.leads
        le.tables_analyze()
        raw_s = raw_ceiling(workspace, args.leads, min(args.threads, len(batches)))
        assert Lead.objects.filter(business_email__startswith="raw-").count() == args.leads
        print_json_line(
            what="p3b_single_posts", leads_per_s=round(args.leads / single_s, 1), seconds=round(single_s, 1)
        )
        print_json_line(
            what="p3b_batches_of_1000", leads_per_s=round(args.leads / batch_s, 1), seconds=round(batch_s, 1)
        )
        print_json_line(
            what="p3b_raw_psycopg_insert_on_conflict",
            leads_per_s=round(args.leads / raw_s, 1),
            seconds=round(raw_s, 2),
        )
    finally:
        stop(server)
    print_json_line(
        what="P3 ratios",
        inbound_vs_insert_one_row_rps=round(ratio(inbound["rps"], insert["rps"]), 2),
        inbound_vs_bare_rps=round(ratio(inbound["rps"], bare["rps"]), 2),
        inbound_vs_insert_one_row_p99=round(ratio(inbound["p99_ms"], insert["p99_ms"]), 2),
        p3b_batch_vs_single=round(ratio(single_s, batch_s), 2),
        p3b_batch_vs_raw=round(ratio(raw_s, batch_s), 2),
        goal="inbound_vs_insert_one_row_rps >= 0.5; p3b_batch_vs_single >= 20; p3b_batch_vs_raw >= 0.3",
    )


if __name__ == "__main__":
    main()
