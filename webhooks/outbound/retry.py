"""The outbound retry policy: one constant, shown in the admin next to each delivery."""

import random
from datetime import timedelta

# First attempt at once, then 5 retries this long after the previous attempt (≈93 min).
RETRY_SCHEDULE = (
    timedelta(minutes=3),
    timedelta(minutes=6),
    timedelta(minutes=12),
    timedelta(minutes=24),
    timedelta(minutes=48),
)
MAX_ATTEMPTS = 1 + len(RETRY_SCHEDULE)
JITTER = 0.10
RETRY_AFTER_STATUSES = frozenset({429, 503})


def retry_delay(*, retry_number, retry_after=None, status_code=None, rng=random):
    """The wait before retry `retry_number` (1-based), or None when the budget is spent.

    A receiver's Retry-After on 429/503 is honoured when it asks for longer than our step,
    but never more than twice the step, so one endpoint cannot park a delivery for days.
    """
    if retry_number > len(RETRY_SCHEDULE):
        return None
    step = RETRY_SCHEDULE[retry_number - 1]
    delay = step * rng.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None and status_code in RETRY_AFTER_STATUSES:
        asked = timedelta(seconds=retry_after)
        if asked > delay:
            delay = min(asked, 2 * step)
    return delay


def schedule_description():
    minutes = ", ".join(str(int(step.total_seconds() // 60)) for step in RETRY_SCHEDULE)
    return f"at once, then {len(RETRY_SCHEDULE)} retries after {minutes} minutes (±{int(JITTER * 100)} %)"
