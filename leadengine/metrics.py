"""Prometheus metrics: the mechanism every app uses, and who may read them.

Two kinds of figures, chosen by what stays correct with several web and worker processes
(docs/operations.md, "Metrics"):

- **Counters and histograms** of things that happen in a process (an attempt's latency, an
  inbound answer, a rejection) are registered in `PROCESS_METRICS`. With
  `PROMETHEUS_MULTIPROC_DIR` set, prometheus_client writes each process's values to files in
  that directory and a scrape of any web process sums them all; without it, a scrape shows
  only the process that answered it (fine for one process, wrong behind gunicorn's workers).
- **Gauges of state** (backlog, breakers) are computed from the database at scrape time by
  collectors the apps register here (`scrape_collector_register`, from their `ready()`), so
  they are the same whichever process answers and need no process to have seen anything.

Metric names start with `leadengine_`. This module knows no app above it.
"""

import hmac
import ipaddress

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, disable_created_metrics, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# `_created` series exist only per process (multiprocess mode has none): leave them out, so
# both modes expose the same names.
disable_created_metrics()
PROCESS_METRICS = CollectorRegistry()
_scrape_collectors = []

RATE_LIMIT_REJECTIONS = Counter(
    "leadengine_rate_limit_rejections",
    "Requests refused with 429 by a rate limit or throttle, by scope (inbound_webhook, api).",
    ["scope"],
    registry=PROCESS_METRICS,
)
CACHE_UNAVAILABLE = Counter(
    "leadengine_cache_unavailable",
    "Requests let through because the cache that counts a rate limit was unreachable (fail open).",
    ["scope"],
    registry=PROCESS_METRICS,
)


def scrape_collector_register(collector):
    """Add a collector whose `collect()` computes gauges at scrape time (from the database)."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)


def rate_limit_rejection_count(*, scope):
    RATE_LIMIT_REJECTIONS.labels(scope=scope).inc()


def cache_unavailable_count(*, scope):
    CACHE_UNAVAILABLE.labels(scope=scope).inc()


def metrics_exposition():
    """The text one scrape returns: every process's counters, then the scrape-time gauges."""
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(PROCESS_METRICS)
    for collector in _scrape_collectors:
        registry.register(collector)
    return generate_latest(registry)


def metrics_enabled():
    return bool(settings.METRICS_TOKEN or settings.METRICS_ALLOWED_IPS)


def metrics_caller_allowed(*, authorization, remote_addr):
    """The right bearer token from anywhere, or any request from an allowed address.

    `remote_addr` is the socket's peer: behind a proxy, that is the proxy (so allow-list the
    proxy, or use the token); X-Forwarded-For is never trusted here, anyone can send it.
    """
    token = settings.METRICS_TOKEN
    scheme, _, presented = (authorization or "").partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented.strip().encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)
