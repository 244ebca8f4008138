import json
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from leadengine.encryption import EncryptedTextField
from leadengine.models import Workspace
from leads.models import Campaign, Lead, LeadStatus, List

from .destinations import DestinationRefused, DestinationUnresolvable, destination_check
from .http_client import response_excerpt
from .retry import MAX_ATTEMPTS, retry_delay
from .signing import secret_generate

SECRET_ROTATION_OVERLAP = timedelta(hours=24)
# The one spelling of each event: the type receivers see (payload `event_type`), and the type
# a Send Test delivery is logged under. The trigger an operator picks is stored as
# `OutboundWebhook.Trigger.LEAD_STATUS_UPDATED` (a database value, kept as it is).
EVENT_TYPE_STATUS_UPDATED = "lead.status_updated"
TEST_EVENT_TYPE = f"{EVENT_TYPE_STATUS_UPDATED}.test"
MAX_IN_FLIGHT_LIMIT = 32
# The circuit breaker: this many network failures in a row (timeouts, refused or reset
# connections) hold an endpoint back; each failed probe doubles the pause, up to the cap.
BREAKER_THRESHOLD = 5
BREAKER_FIRST_PAUSE = timedelta(seconds=15)
BREAKER_MAX_PAUSE = timedelta(minutes=10)
# "Failed in the last 24 h" and "sent in the last 24 h", on every screen that shows health.
HEALTH_WINDOW = timedelta(hours=24)
# How far back "last attempt" looks (the trigger page's health panel shows the same week).
LAST_ATTEMPT_WINDOW = timedelta(days=7)


UNRESOLVED_HOST_WARNING = (
    "The host {host} does not resolve yet; deliveries will retry until it does "
    "(every attempt checks its address)."
)


def validate_destination_url(url):
    """The save-time half of the SSRF check; every attempt repeats all of it.

    Refused: a bad shape (scheme, host, userinfo…), a literal address that isn't allowed,
    and a host name that resolves NOW to one. A host name that doesn't resolve yet is
    accepted, because operators create the endpoint before its DNS is live: its first
    attempt resolves it and refuses a private answer then (see `destination_warning`).
    """
    try:
        destination_check(url)
    except DestinationUnresolvable:
        return
    except DestinationRefused as exc:
        raise ValidationError(str(exc), code="destination_refused") from None


def destination_warning(url):
    """What the operator should know about a saved URL: its host doesn't resolve yet."""
    try:
        destination_check(url)
    except DestinationUnresolvable:
        return UNRESOLVED_HOST_WARNING.format(host=urlsplit(url).hostname)
    except DestinationRefused:
        return None  # the validator reports it
    return None


def breaker_pause(consecutive_failures):
    """How long an endpoint is held back after this many network failures in a row."""
    if consecutive_failures < BREAKER_THRESHOLD:
        return None
    doublings = min(consecutive_failures - BREAKER_THRESHOLD, 10)
    return min(BREAKER_FIRST_PAUSE * 2**doublings, BREAKER_MAX_PAUSE)


def deliveries_failed_recently(deliveries, now):
    """The failures that count against a webhook's health: real deliveries (a Send Test is a
    probe, not traffic) that failed within the health window. A delivery fails when it
    completes, however long ago it was created, so the window applies to `completed_at`."""
    return deliveries.filter(
        is_test=False, status=Delivery.Status.FAILED, completed_at__gte=now - HEALTH_WINDOW
    )


def _subquery_count(queryset):
    """A scalar subquery counting `queryset`'s rows, which all share one webhook (OuterRef),
    so grouping by it yields one row, or none (→ 0)."""
    counted = queryset.order_by().values("webhook").annotate(n=models.Count("pk")).values("n")
    return Coalesce(models.Subquery(counted, output_field=models.IntegerField()), 0)


def _attempt_count(attempts):
    """A scalar subquery counting one webhook's attempts (grouped by it: one row, or none → 0)."""
    counted = attempts.order_by().values("delivery__webhook").annotate(n=models.Count("pk")).values("n")
    return Coalesce(models.Subquery(counted, output_field=models.IntegerField()), 0)


# A 2xx answer; anything else (another code, or no answer at all) is a failed attempt.
ATTEMPT_SUCCEEDED = models.Q(status_code__gte=200, status_code__lt=300)


class OutboundWebhookQuerySet(models.QuerySet):
    def with_health(self, now):
        """The figures every screen shows (admin list, Settings ▸ Webhooks, API), from here
        only, so they cannot disagree:

        - `last_delivery_*`: the newest delivery, test or not (what the operator saw last);
        - `failed_24h`: `deliveries_failed_recently()`;
        - `deliveries_24h`: real deliveries created or completed in the window, so the
          failures are always among them and the failure rate never passes 100 %;
        - `retrying`: deliveries waiting for a retry after a failed attempt;
        - `attempts_24h`, `failed_attempts_24h`: real attempts (what the endpoint answered)
          started in the window; `last_attempt_*`: the newest finished attempt, test or not,
          of the last week (as the trigger page's health panel).

        Correlated subqueries, not JOIN + GROUP BY: a page costs the same for 3 webhooks or
        3,000, and two counts never multiply each other's rows. Each one is bounded by time
        and answered from an index of `Delivery` (docs/benchmarks.md, P11), so a page costs
        the same with a million deliveries as with a thousand.
        """
        deliveries = Delivery.objects.filter(webhook=models.OuterRef("pk"))
        latest = deliveries.order_by("-created_at", "-id")
        since = now - HEALTH_WINDOW
        real = deliveries.filter(is_test=False)
        # Attempts, not deliveries, are what the endpoint answered: four 500s on one delivery
        # are four failures, and the last thing that happened is the last attempt.
        attempts = DeliveryAttempt.objects.filter(delivery__webhook=models.OuterRef("pk"), in_progress=False)
        recent_attempts = attempts.filter(
            attempt_delivery_active_since(since), started_at__gte=since, delivery__is_test=False
        )
        return self.annotate(
            last_attempt_at=_latest_attempt(attempts, now, "started_at"),
            last_attempt_code=_latest_attempt(attempts, now, "status_code"),
            attempts_24h=_attempt_count(recent_attempts),
            failed_attempts_24h=_attempt_count(recent_attempts.exclude(ATTEMPT_SUCCEEDED)),
            last_delivery_id=models.Subquery(latest.values("pk")[:1]),
            last_delivery_status=models.Subquery(latest.values("status")[:1]),
            last_delivery_code=models.Subquery(latest.values("last_status_code")[:1]),
            last_delivery_attempt_count=models.Subquery(latest.values("attempt_count")[:1]),
            last_delivery_budget_start=models.Subquery(latest.values("budget_start")[:1]),
            last_delivery_at=models.Subquery(latest.values("created_at")[:1]),
            last_delivery_is_test=models.Subquery(latest.values("is_test")[:1]),
            # Created in the window, plus created before it and finished in it: two index
            # ranges instead of an OR that reads every delivery of the webhook.
            deliveries_24h=_subquery_count(real.filter(created_at__gte=since))
            + _subquery_count(
                real.filter(status__in=Delivery.FINISHED, completed_at__gte=since, created_at__lt=since)
            ),
            failed_24h=_subquery_count(deliveries_failed_recently(deliveries, now)),
            retrying=_subquery_count(deliveries.filter(status=Delivery.Status.PENDING, attempt_count__gt=0)),
        )


def _latest_attempt(attempts, now, field):
    """`field` of the newest attempt in the last hour, else day, else week: a busy endpoint's
    answer is found among a few recent deliveries, and COALESCE only looks further back
    when the nearer window is empty."""
    windows = [
        models.Subquery(
            attempts.filter(attempt_delivery_active_since(now - window), started_at__gte=now - window)
            .order_by("-started_at", "-id")
            .values(field)[:1]
        )
        for window in (timedelta(hours=1), HEALTH_WINDOW, LAST_ATTEMPT_WINDOW)
    ]
    return Coalesce(*windows)


def attempt_delivery_active_since(since):
    """Attempts started since `since` belong to deliveries still unfinished or finished since
    then (a delivery completes after its last attempt starts). Said on the delivery, this
    lets its indexes skip the attempts of every older delivery."""
    return models.Q(delivery__status__in=Delivery.UNFINISHED) | models.Q(
        delivery__status__in=Delivery.FINISHED, delivery__completed_at__gte=since
    )


class OutboundWebhook(models.Model):
    """A "Send Data" trigger: where to POST which lead events, and how to sign them."""

    class Trigger(models.TextChoices):
        LEAD_STATUS_UPDATED = "lead_status_updated", "Lead Status Updated"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="outbound_webhooks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=40, choices=Trigger.choices, default=Trigger.LEAD_STATUS_UPDATED)
    url = models.URLField(
        "destination URL", max_length=2000, validators=[validate_destination_url], help_text="http(s) only."
    )
    # Encrypted at rest (HMAC needs the secret itself, so it cannot be hashed); never listed,
    # shown only on demand.
    secret = EncryptedTextField(default=secret_generate, editable=False)
    previous_secret = EncryptedTextField(blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField("active", default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="", editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    lists = models.ManyToManyField(List, blank=True, related_name="+", help_text="Only leads in these lists.")
    campaigns = models.ManyToManyField(
        Campaign, blank=True, related_name="+", help_text="Only leads in these campaigns."
    )
    statuses = models.JSONField(
        "new statuses",
        default=list,
        blank=True,
        help_text="Only changes to these statuses. Empty = every status.",
    )
    deliver_in_order = models.BooleanField(
        "deliver in order",
        default=False,
        help_text="Send one lead's events in the order of its status changes: a later one waits "
        "while an earlier one is pending or retrying. Other leads are not held up.",
    )
    max_in_flight = models.PositiveSmallIntegerField(
        "requests at once",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_IN_FLIGHT_LIMIT)],
        help_text=f"Most requests in flight to this endpoint at once (1–{MAX_IN_FLIGHT_LIMIT}). "
        "Empty = the platform default.",
    )
    # Circuit breaker state, written by the sender (dispatch._breaker_news, dispatch._breakers_fail).
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OutboundWebhookQuerySet.as_manager()

    class Meta:
        ordering = ["workspace", "name"]
        verbose_name = "outbound webhook"

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.is_active and self.disabled_reason:
            # Re-activated by the operator: the old reason no longer applies.
            self.disabled_reason, self.disabled_at = "", None
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "disabled_reason", "disabled_at"}
        super().save(*args, **kwargs)

    def clean(self):
        unknown = [status for status in self.statuses or [] if status not in LeadStatus.values]
        if unknown:
            raise ValidationError({"statuses": f"Unknown lead status: {', '.join(map(str, unknown))}."})

    def signing_secrets(self, now=None):
        """The secrets that sign now: the current one, plus the previous during its 24 h overlap."""
        now = now or timezone.now()
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            return [self.secret, self.previous_secret]
        return [self.secret]

    @property
    def concurrency_limit(self):
        return self.max_in_flight or settings.WEBHOOK_ENDPOINT_CONCURRENCY

    @property
    def breaker_open(self):
        """Held back after repeated network failures: one probe at a time until one succeeds."""
        return self.consecutive_failures >= BREAKER_THRESHOLD

    def is_paused(self, now):
        """Held back until its pause ends (then one probe at a time). The claim's SQL says the
        same in `dispatch._claim_sql` ("room")."""
        return self.breaker_open and self.paused_until is not None and self.paused_until > now

    def breaker_status(self, now=None):
        """What the operator reads on the webhook page and in the API ("" when healthy)."""
        if not self.breaker_open:
            return ""
        now = now or timezone.now()
        if self.is_paused(now):
            return (
                f"Endpoint failing ({self.consecutive_failures} network failures in a row): "
                f"paused until {self.paused_until:%Y-%m-%d %H:%M:%S} UTC, then one probe delivery."
            )
        return f"Endpoint failing ({self.consecutive_failures} network failures in a row): probing."

    @staticmethod
    def statuses_accept(statuses, new_status):
        """A webhook's `statuses` filter: empty accepts every status. Takes the column's
        value: the outbox reads it without building the webhook."""
        # Lists and campaigns are filtered in SQL; a JSON "contains" is not portable to SQLite.
        return not statuses or new_status in statuses


class DeliveryQuerySet(models.QuerySet):
    def due(self, now):
        """Pending deliveries whose next attempt is due (index: status, next_attempt_at)."""
        return self.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now)

    def lease_expired(self, now):
        """In-flight deliveries whose claim expired: the worker died (index: status, claimed_until)."""
        return self.filter(status=Delivery.Status.IN_FLIGHT, claimed_until__lt=now)


class Delivery(models.Model):
    """One event to one webhook: the exact bytes to send and where the sending stands."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        IN_FLIGHT = "in_flight", "In flight"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)
    UNFINISHED = (Status.PENDING, Status.IN_FLIGHT)

    # No index of its own: every index below that starts with `webhook` serves its lookups.
    webhook = models.ForeignKey(
        OutboundWebhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    # The event's id, sent as the Standard Webhooks `webhook-id` on every retry and redelivery.
    event_id = models.CharField(max_length=64, editable=False)
    event_type = models.CharField(max_length=60, default=EVENT_TYPE_STATUS_UPDATED)
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    payload = models.BinaryField(editable=False)
    is_test = models.BooleanField("test", default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempt number where the current retry budget started (moves on a manual redelivery).
    budget_start = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_until"]),
            # Partial indexes skip the rows their queries never look for: a new delivery
            # (no claim, not completed) and a finished claim are written to fewer indexes
            # (a 10-row INSERT wrote 160 WAL records, 120 with these).
            models.Index(
                fields=["claim_token"], condition=models.Q(claim_token__isnull=False), name="delivery_claimed"
            ),
            models.Index(fields=["webhook", "-created_at"]),
            # Health and auto-disable: one webhook's deliveries of one status, by time.
            models.Index(fields=["webhook", "status", "created_at"], name="delivery_hook_status_created"),
            models.Index(
                fields=["webhook", "status", "completed_at"],
                condition=models.Q(completed_at__isnull=False),
                name="delivery_hook_status_done",
            ),
            # Retention: finished deliveries of one status, oldest first.
            models.Index(
                fields=["status", "completed_at"],
                condition=models.Q(completed_at__isnull=False),
                name="delivery_status_completed",
            ),
            models.Index(fields=["webhook", "lead", "status"]),
            # The claim reads each endpoint's oldest due deliveries, at most its room.
            models.Index(fields=["webhook", "status", "next_attempt_at", "id"], name="delivery_hook_due"),
            # The claim finds the endpoints with queued deliveries by skipping through this
            # (small) index, not by visiting every webhook of every workspace.
            models.Index(
                fields=["webhook"],
                condition=models.Q(status__in=["pending", "in_flight"]),
                name="delivery_queued_hook",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="unique_delivery_per_event"),
        ]

    def __str__(self):
        return f"{self.event_type} → {self.webhook} ({self.status_word})"

    @property
    def status_word(self):
        """The one word every screen shows for where this delivery stands (titles, badges,
        health): a pending delivery already tried in its budget waits for a retry; one queued
        again by an operator (budget restarted) waits for its redelivery."""
        if self.status != self.Status.PENDING or not self.attempt_count:
            return self.get_status_display()
        return "Retrying" if self.attempt_count > self.budget_start else "Redelivery queued"

    @property
    def attempts_left(self):
        return MAX_ATTEMPTS - (self.attempt_count - self.budget_start)

    @property
    def next_attempt_number(self):
        """The coming attempt's place in the current budget (1 after a redelivery)."""
        return self.attempt_count - self.budget_start + 1

    @property
    def is_finished(self):
        return self.status in self.FINISHED

    def apply_result(self, result, now):
        """Move on after an attempt (the retry schedule); returns a reason to disable the
        webhook when the receiver asked us to stop (410), else None."""
        self.last_status_code = result.status_code
        self.last_error = result.error_message[:1000]
        delay = None
        if result.ok:
            self.status, self.next_attempt_at, self.completed_at = self.Status.SUCCEEDED, None, now
            return None
        if result.retryable:
            delay = retry_delay(
                retry_number=self.attempt_count - self.budget_start,
                retry_after=result.retry_after,
                status_code=result.status_code,
            )
        if delay is None:
            self.status, self.next_attempt_at, self.completed_at = self.Status.FAILED, None, now
        else:
            self.status, self.next_attempt_at = self.Status.PENDING, now + delay
        if result.gone:
            return (
                f"The destination answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC: it asked us to stop sending."
            )
        return None

    def waiting_for(self):
        """With "deliver in order": the earlier unfinished delivery of the same lead this one
        waits for, else None."""
        if self.is_finished or not self.lead_id or not self.webhook.deliver_in_order:
            return None
        return (
            Delivery.objects.filter(webhook_id=self.webhook_id, lead_id=self.lead_id, pk__lt=self.pk)
            .exclude(status__in=[self.Status.SUCCEEDED, self.Status.FAILED])
            .order_by("pk")
            .first()
        )

    def payload_pretty(self):
        try:
            return json.dumps(json.loads(bytes(self.payload)), indent=2, ensure_ascii=False)
        except ValueError:
            return bytes(self.payload).decode("utf-8", errors="replace")


class DeliveryAttempt(models.Model):
    """One POST of a delivery, successful or not, as the operator sees it in the log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    request_url = models.CharField(max_length=2000)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True, default="", help_text="First 4 KiB.")
    error_class = models.CharField(max_length=100, blank=True, default="")
    error_message = models.CharField(max_length=1000, blank=True, default="")
    # Written just before the request leaves, so a worker killed mid-send leaves the row
    # behind: every request that reached the network has its attempt (then "WorkerLost").
    in_progress = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery", "number"]
        # The health panel reads one webhook's attempts of the last 7 days: per delivery, a
        # range on started_at instead of every attempt the delivery ever had.
        indexes = [models.Index(fields=["delivery", "started_at"], name="attempt_delivery_started")]

    def __str__(self):
        return f"Attempt {self.number} of delivery {self.delivery_id}"

    @property
    def succeeded(self):
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def response_excerpt(self):
        return response_excerpt(self.response_body)


class WebhookNotice(models.Model):
    """What the workspace's operators are told about one webhook: the latest reason it
    stopped or started failing (a banner on Settings ▸ Webhooks until acknowledged) and when
    they were last emailed (at most once a day per webhook; `notifications.py`)."""

    class Kind(models.TextChoices):
        DISABLED = "disabled", "Disabled automatically"
        GONE = "gone", "Deactivated by the receiver (410 Gone)"
        FAILING = "failing", "Deliveries failing"

    webhook = models.OneToOneField(OutboundWebhook, on_delete=models.CASCADE, related_name="notice")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    reason = models.CharField(max_length=1000)
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]  # one row per webhook: no index beyond its own

    def __str__(self):
        return f"{self.get_kind_display()}: {self.webhook}"

    @property
    def is_open(self):
        return self.acknowledged_at is None
