"""Lead metrics (docs/operations.md, "Metrics")."""

from prometheus_client import Histogram

from leadengine.metrics import PROCESS_METRICS

LEAD_UPSERT_DURATION = Histogram(
    "leadengine_lead_upsert_duration_seconds",
    "Time to find-or-create and save one lead record (`lead_upsert`: locks, queries, status change).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=PROCESS_METRICS,
)
