"""The ONE HTTP client for every outbound webhook call (deliveries and Send Test).

- Pins the connection to the address `destinations.destination_resolve()` approved, with
  requests-hardened's adapter design (Host header and TLS SNI keep the host name); our
  resolver checks EVERY address and unwraps IPv4-in-IPv6 forms, which the library does not.
- Never follows redirects, ignores proxy/.netrc environment (`trust_env=False`), reads at
  most `RESPONSE_BODY_LIMIT` bytes of the answer, signs the exact bytes it sends.
- Never raises for a network or HTTP failure: it returns a `DeliveryResult` the caller acts on.
"""

import email.utils
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from requests_hardened.ip_filter_adapter import IPFilterAdapter

from .destinations import DestinationRefused, destination_resolve, destination_url_check
from .signing import signature_header

RESPONSE_BODY_LIMIT = 4096
EXCERPT_LINES = 20  # what Send Test shows of the answer, in the admin and the API


def response_excerpt(body):
    """The first lines of an answer, as Send Test shows them (from the send or its attempt row)."""
    return "\n".join(body.splitlines()[:EXCERPT_LINES])


@dataclass(frozen=True)
class DeliveryResult:
    """What one POST did; `retryable` tells the caller whether another attempt may help."""

    ok: bool
    retryable: bool
    started_at: datetime
    duration_ms: int
    request_url: str
    status_code: int | None = None
    response_headers: dict = field(default_factory=dict)
    response_body: str = ""
    error_class: str = ""
    error_message: str = ""
    retry_after: float | None = None

    @property
    def gone(self):
        return self.status_code == 410

    @property
    def response_excerpt(self):
        return response_excerpt(self.response_body)

    @property
    def network_failure(self):
        """No answer at all (timeout, refused or reset connection, DNS): what trips the breaker."""
        return self.status_code is None and self.retryable


class PinnedAddressAdapter(IPFilterAdapter):
    """requests-hardened's IP-pinning adapter with our stricter resolver.

    The library checks only the first DNS answer and lets `::127.0.0.1` through; we resolve
    once with `destination_resolve()` (all answers, unwrapped forms) and connect to the
    address it returned.
    """

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = HTTPAdapter.build_connection_pool_key_attributes(
            self, request, verify, cert
        )
        hostname, port = host_params["host"], host_params["port"]
        host_header = f"[{hostname}]" if ":" in hostname else hostname
        if port is not None:
            host_header += f":{port}"
        request.headers["Host"] = host_header
        if self._is_https_proto:
            pool_kwargs["assert_hostname"] = hostname
            pool_kwargs["server_hostname"] = hostname
        address = destination_resolve(hostname, port or (443 if self._is_https_proto else 80))
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs


_sessions = threading.local()


def session_get():
    """One Session (connection pool) per process and thread, created lazily: prefork
    children never share the parent's sockets, and threaded web servers (Send Test) never
    share a Session, which requests does not promise is thread-safe."""
    if getattr(_sessions, "pid", None) != os.getpid():
        session = requests.Session()
        session.trust_env = False
        session.mount("http://", PinnedAddressAdapter(is_https_proto=False))
        session.mount("https://", PinnedAddressAdapter(is_https_proto=True))
        _sessions.session, _sessions.pid = session, os.getpid()
    return _sessions.session


def user_agent():
    return f"LeadEngine-Webhooks/{settings.LEADENGINE_VERSION}"


def retry_after_seconds(value, now=None):
    """Retry-After as seconds (a number or an HTTP-date), or None when unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (now if now is not None else time.time()))


def webhook_post(*, url, body, msg_id, secrets, timeout=None):
    """POST body to url, signed with every secret; returns a DeliveryResult, never raises."""
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": user_agent(),
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_=secrets, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }

    def result(**kwargs):
        duration_ms = int((time.monotonic() - clock) * 1000)
        return DeliveryResult(started_at=started_at, duration_ms=duration_ms, request_url=url, **kwargs)

    try:
        destination_url_check(url)
        response = session_get().post(
            url,
            data=body,
            headers=headers,
            timeout=timeout or settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
            stream=True,
        )
    except DestinationRefused as exc:
        return result(
            ok=False, retryable=exc.retryable, error_class=type(exc).__name__, error_message=str(exc)
        )
    except (requests.Timeout, requests.ConnectionError) as exc:
        return result(ok=False, retryable=True, error_class=type(exc).__name__, error_message=str(exc)[:1000])
    except requests.RequestException as exc:
        return result(
            ok=False, retryable=False, error_class=type(exc).__name__, error_message=str(exc)[:1000]
        )
    return _classify(response, result)


def _read_capped(response):
    try:
        data = response.raw.read(RESPONSE_BODY_LIMIT + 1, decode_content=True)
    except Exception as exc:  # a broken body is not a reason to lose the status code
        response.close()
        return f"(body unreadable: {exc})"
    if len(data) > RESPONSE_BODY_LIMIT:
        response.close()  # drop the connection rather than read an unbounded body
    else:
        response.raw.release_conn()  # whole body read: the connection goes back to the pool
    return data[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")


def _classify(response, result):
    status = response.status_code
    common = {
        "status_code": status,
        "response_headers": dict(response.headers),
        "response_body": _read_capped(response),
    }
    if 200 <= status < 300:
        return result(ok=True, retryable=False, **common)
    if 300 <= status < 400:
        location = response.headers.get("Location", "(no Location header)")
        return result(
            ok=False,
            retryable=False,
            error_class="Redirect",
            error_message=f"HTTP {status} redirect to {location}: not followed, update the URL.",
            **common,
        )
    retryable = status >= 500 or status in (408, 429)
    return result(
        ok=False,
        retryable=retryable,
        error_class="HTTPError",
        error_message=f"HTTP {status} {response.reason or ''}".strip(),
        retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        **common,
    )
