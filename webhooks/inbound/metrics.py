"""Receive Data metrics (docs/operations.md, "Metrics"): every answered request, by status code."""

from prometheus_client import Counter

from leadengine.metrics import PROCESS_METRICS, rate_limit_rejection_count

INBOUND_REQUESTS = Counter(
    "leadengine_inbound_requests",
    "Requests answered by the Receive Data endpoint (POST /webhooks/<id>), by status code.",
    ["status_code"],
    registry=PROCESS_METRICS,
)


def inbound_answer_count(status_code):
    INBOUND_REQUESTS.labels(status_code=str(status_code)).inc()
    if status_code == 429:  # the endpoint's only 429 is its per-webhook rate limit
        rate_limit_rejection_count(scope="inbound_webhook")
