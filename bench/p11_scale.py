"""P11 — pages and jobs on big tables vs a near-empty database.

Seeds with SQL (generate_series) three databases of the same shape: `le_bench_p11` with 1 M
deliveries, 2 M attempts and 0.5 M inbound request-log rows spread over 90 days (`--scale 0.25`
for a quarter); `le_bench_p11_day` with one day of that traffic and no history (11 k
deliveries, all in the last 24 h: what the big one holds in the health window); and
`le_bench_p11_small`, near-empty (1 k deliveries over 90 days). In one child process per
database it times: Settings ▸ Webhooks, the admin delivery list, a webhook's page, the request
log, `webhooks_disable_failing()`, the sweeper's due query and a claim (rolled back, so every
round claims the same rows). Medians of `--rounds`. Ratios printed LAST: big / one day (same
recent traffic, 90× the history) and big / near-empty (goal ≤ 2×).

    .venv/bin/python bench/p11_scale.py [--scale 1] [--rounds 7] [--passes 3] [--reseed] [--explain]
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from harness import BENCH_DIR, PYTHON, ensure_database, machine, print_json_line, ratio

BIG, SMALL, DAY = "le_bench_p11", "le_bench_p11_small", "le_bench_p11_day"
WEBHOOKS, INBOUND_WEBHOOKS, DAYS = 20, 10, 90
DUE_PENDING, EXPIRED_IN_FLIGHT, WAITING_RETRIES = 400, 40, 2000
GOAL = 2.0


def database_url(name):
    return f"postgres://postgres@127.0.0.1:5432/{name}"


# Deliveries: created evenly over 90 days, 93 % succeeded, 6 % failed (both finished a few
# minutes after creation, with 2 attempts each); the backlog (due, expired leases, waiting
# retries) is the same size in both databases, the tables are not.
SEED_SQL = """
TRUNCATE outbound_deliveryattempt, outbound_delivery, inbound_inboundrequest RESTART IDENTITY;
INSERT INTO outbound_delivery (webhook_id, event_id, event_type, lead_id, payload, is_test, status,
    attempt_count, budget_start, next_attempt_at, claimed_until, claim_token, last_status_code,
    last_error, created_at, completed_at)
SELECT w.ids[1 + i % array_length(w.ids, 1)], 'evt_' || i, 'lead.status_updated', NULL,
    convert_to(repeat('{"lead":{"id":1,"email":"ada@example.com"}}', 8), 'UTF8'), false,
    CASE WHEN i % 100 < 6 THEN 'failed' ELSE 'succeeded' END, 2, 0, NULL, NULL, NULL,
    CASE WHEN i % 100 < 6 THEN 500 ELSE 200 END, '',
    now() - interval '%(days)s days' * (1 - i::float / %(deliveries)s),
    now() - interval '%(days)s days' * (1 - i::float / %(deliveries)s) + interval '3 minutes'
FROM generate_series(1, %(deliveries)s) AS i,
    (SELECT array_agg(id ORDER BY id) AS ids FROM outbound_outboundwebhook) AS w;
INSERT INTO outbound_deliveryattempt (delivery_id, number, started_at, duration_ms, request_url,
    status_code, response_headers, response_body, error_class, error_message, in_progress)
SELECT d.id, n, d.created_at + (n - 1) * interval '3 minutes', 120, 'https://example.com/hook',
    CASE WHEN n = 1 OR d.status = 'failed' THEN 500 ELSE 200 END, '{}'::jsonb,
    repeat('ok ', 40), '', '', false
FROM outbound_delivery d, generate_series(1, 2) AS n;
INSERT INTO outbound_delivery (webhook_id, event_id, event_type, payload, is_test, status,
    attempt_count, budget_start, next_attempt_at, claimed_until, last_error, created_at)
SELECT w.ids[1 + i % array_length(w.ids, 1)], 'due_' || i, 'lead.status_updated', '\\x7b7d', false,
    CASE WHEN i <= %(due)s THEN 'pending' WHEN i <= %(due)s + %(expired)s THEN 'in_flight' ELSE 'pending' END,
    CASE WHEN i <= %(due)s THEN 0 ELSE 1 END, 0,
    CASE WHEN i <= %(due)s THEN now() - interval '1 minute'
         WHEN i <= %(due)s + %(expired)s THEN NULL ELSE now() + interval '2 hours' END,
    CASE WHEN i > %(due)s AND i <= %(due)s + %(expired)s THEN now() - interval '1 minute' END,
    '', now() - interval '10 minutes'
FROM generate_series(1, %(due)s + %(expired)s + %(waiting)s) AS i,
    (SELECT array_agg(id ORDER BY id) AS ids FROM outbound_outboundwebhook) AS w;
INSERT INTO inbound_inboundrequest (webhook_id, workspace_id, public_id, received_at, api_key_prefix,
    status_code, response, content_type, body, body_size, body_truncated, missing_paths,
    unmapped_keys, warnings)
SELECT w.id, w.workspace_id, w.public_id,
    now() - interval '%(days)s days' * (1 - i::float / %(requests)s), 'le_bench',
    CASE WHEN i % 50 = 0 THEN 422 ELSE 201 END, '{"status":"created"}'::jsonb, 'application/json',
    repeat('{"email":"ada@example.com","first_name":"Ada"}', 20), 980, false, '[]', '[]', '[]'
FROM generate_series(1, %(requests)s) AS i
JOIN (SELECT id, workspace_id, public_id, row_number() OVER (ORDER BY id) - 1 AS n
      FROM inbound_inboundwebhook) AS w ON w.n = i %% %(inbound_webhooks)s;
ANALYZE;
"""


def seed(*, deliveries, requests, days):
    """Fixtures through the ORM (workspaces, webhooks, an operator), rows through SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from leadengine.models import Workspace
    from webhooks.inbound.models import InboundWebhook
    from webhooks.outbound.models import OutboundWebhook

    Workspace.objects.filter(slug__startswith="p11-").delete()
    for index in range(2):
        workspace = Workspace.objects.create(name=f"P11 {index}", slug=f"p11-{index}")
        for number in range(WEBHOOKS // 2):
            OutboundWebhook.objects.create(
                workspace=workspace, name=f"Hook {number}", url=f"https://example.com/{index}/{number}"
            )
        for number in range(INBOUND_WEBHOOKS // 2):
            InboundWebhook.objects.create(workspace=workspace, name=f"Form {number}")
    get_user_model().objects.filter(username="p11").delete()
    get_user_model().objects.create_superuser("p11", "p11@example.com", "p11")
    sql = SEED_SQL.replace("%%", "%")
    for name, value in {
        "deliveries": deliveries,
        "requests": requests,
        "due": DUE_PENDING,
        "expired": EXPIRED_IN_FLIGHT,
        "waiting": WAITING_RETRIES,
        "inbound_webhooks": INBOUND_WEBHOOKS,
        "days": days,
    }.items():
        sql = sql.replace(f"%({name})s", str(value))
    with connection.cursor() as cursor:
        for statement in sql.split(";\n"):
            if statement.strip():
                cursor.execute(statement)


def timed(function, rounds):
    function()  # warm-up: imports, prepared plans, the buffer cache
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def admin_get(user):
    """GET admin pages as `user` through the WSGI handler, as gunicorn would call it (a session
    cookie, no HTTP): what is timed is Django's work, not a socket."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.handlers.wsgi import WSGIHandler

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    handler = WSGIHandler()

    def get(url):
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session.session_key}",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        statuses = []
        response = handler(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(response)
        response.close()
        assert statuses[0].startswith("200"), (url, statuses[0])

    return get


def measurements():
    """name -> a callable doing one of the things an operator or the sender does."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.urls import reverse

    from webhooks.outbound import dispatch, selectors, services
    from webhooks.outbound.models import OutboundWebhook

    fetch = admin_get(get_user_model().objects.get(username="p11"))
    webhook = OutboundWebhook.objects.order_by("pk").first()

    def get(url):
        return lambda: fetch(url)

    def rolled_back(function):
        def run():
            with transaction.atomic():
                function()
                transaction.set_rollback(True)

        return run

    return {
        "settings_webhooks_page": get(reverse("admin:webhooks_settings") + "?kind=send"),
        "admin_delivery_list": get(reverse("admin:outbound_delivery_changelist")),
        "webhook_page": get(reverse("admin:outbound_outboundwebhook_change", args=[webhook.pk])),
        "request_log": get(reverse("admin:inbound_inboundrequest_changelist")),
        "disable_failing": rolled_back(services.webhooks_disable_failing),
        "sweeper_due_query": lambda: selectors.deliveries_due_count(limit=512),
        "claim": rolled_back(lambda: dispatch.deliveries_claim(limit=100)),
    }


def explain():
    """EXPLAIN (ANALYZE) of the slowest statement of each key job, as docs/benchmarks.md shows them."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from webhooks import selectors as page_selectors
    from webhooks.outbound import dispatch, selectors, services
    from webhooks.outbound.models import Delivery

    user = get_user_model().objects.get(username="p11")
    jobs = {
        "sweeper due query": lambda: selectors.deliveries_due_count(limit=512),
        "claim": lambda: dispatch.deliveries_claim(limit=100),
        "disable failing": services.webhooks_disable_failing,
        "health (Settings ▸ Webhooks)": lambda: list(page_selectors.outbound_webhooks_with_health(user=user)),
        "delivery list page": lambda: list(Delivery.objects.select_related("webhook")[:100]),
    }
    for name, job in jobs.items():
        captured = []

        def record(execute, sql, params, many, context, captured=captured):
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                captured.append((time.perf_counter() - started, sql, params))

        with transaction_rolled_back(), connection.execute_wrapper(record):
            job()
        seconds, sql, params = max(captured, key=lambda query: query[0])
        with transaction_rolled_back(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        print(f"## {name} (slowest statement, {seconds * 1000:.1f} ms)\n{plan}\n")


def transaction_rolled_back():
    from contextlib import contextmanager

    from django.db import transaction

    @contextmanager
    def block():
        with transaction.atomic():
            yield
            transaction.set_rollback(True)

    return block()


def child(args):
    """Runs in a process pointed at one database (BENCH_DATABASE_URL)."""
    import le  # noqa: F401  (sets Django up on the bench configuration)
    from django.core.management import call_command
    from django.utils import timezone

    from webhooks.outbound.models import Delivery, DeliveryAttempt

    call_command("migrate", verbosity=0)
    wanted = int(args.deliveries)
    seeded = Delivery.objects.filter(event_id=f"evt_{wanted}").first()
    stale = seeded is None or seeded.created_at < timezone.now() - timedelta(hours=1)
    if args.reseed or stale:
        started = time.perf_counter()
        seed(deliveries=wanted, requests=int(args.requests), days=int(args.days))
        print(f"# seeded {wanted} deliveries in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.explain:
        explain()
        return
    from webhooks.inbound.models import InboundRequest

    sizes = {
        "deliveries": Delivery.objects.count(),
        "attempts": DeliveryAttempt.objects.count(),
        "inbound_requests": InboundRequest.objects.count(),
    }
    figures = {name: round(timed(job, args.rounds), 2) for name, job in measurements().items()}
    print(json.dumps({"sizes": sizes, "ms": figures}))


def run_child(database, deliveries, requests, args, *, days=DAYS, reseed=False, explain=False):
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": database_url(database),
    }
    command = [PYTHON, __file__, "--child", "--deliveries", str(deliveries), "--requests", str(requests)]
    command += ["--days", str(days)]
    command += ["--rounds", str(args.rounds)] + (["--reseed"] if reseed else [])
    command += ["--explain"] if explain else []
    output = subprocess.run(command, env=env, cwd=BENCH_DIR, check=True, capture_output=True, text=True)
    sys.stderr.write(output.stderr)
    return output.stdout if explain else json.loads(output.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="1 = 1 M deliveries, 2 M attempts, 0.5 M requests"
    )
    parser.add_argument("--rounds", type=int, default=7, help="timed repeats per pass")
    parser.add_argument("--passes", type=int, default=3, help="interleaved passes over the databases")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the key queries")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--deliveries", help=argparse.SUPPRESS)
    parser.add_argument("--requests", help=argparse.SUPPRESS)
    parser.add_argument("--days", default=DAYS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    deliveries, requests = int(1_000_000 * args.scale), int(500_000 * args.scale)
    for name in (BIG, SMALL, DAY):
        ensure_database(name)
    if args.explain:
        print(run_child(BIG, deliveries, requests, args, explain=True))
        return None
    print(
        f"# P11 scale · {deliveries} deliveries, {2 * deliveries} attempts, {requests} requests · {machine()}"
    )
    # Interleaved passes, medians across them: the machine's load drifts over a run, and one
    # database measured early and another late would compare the load, not the tables.
    configs = {
        "small": (SMALL, 1000, 500, DAYS),
        # The big database's last day of traffic and no history: what retention changes.
        "day": (DAY, deliveries // DAYS, requests // DAYS, 1),
        "big": (BIG, deliveries, requests, DAYS),
    }
    passes = {name: [] for name in configs}
    for index in range(args.passes):
        for name, (database, count, request_count, days) in configs.items():
            reseed = args.reseed and index == 0
            passes[name].append(run_child(database, count, request_count, args, days=days, reseed=reseed))
    small, day, big = (
        {
            "sizes": runs[0]["sizes"],
            "ms": {job: round(statistics.median(run["ms"][job] for run in runs), 2) for job in runs[0]["ms"]},
        }
        for runs in passes.values()
    )
    print_json_line(what="near_empty", **small["sizes"], ms=small["ms"])
    print_json_line(what="one_day_of_traffic", **day["sizes"], ms=day["ms"])
    print_json_line(what="big", **big["sizes"], ms=big["ms"])
    versus_day = {name: round(ratio(big["ms"][name], day["ms"][name]), 2) for name in big["ms"]}
    print_json_line(what="P11 ratios big / one day", worst=max(versus_day.values()), **versus_day)
    ratios = {name: round(ratio(big["ms"][name], small["ms"][name]), 2) for name in big["ms"]}
    print_json_line(
        what="P11 ratios big / near-empty", goal=f"<= {GOAL}", worst=max(ratios.values()), **ratios
    )
    return None


if __name__ == "__main__":
    main()
