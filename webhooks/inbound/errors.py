"""The one error type of the Receive Data boundary, and the one shape of its error bodies."""


def inbound_error_body(code, message, *, field_errors=(), **extra):
    """Every Receive Data refusal's JSON: the REST API's envelope
    `{"error": {"code", "message", "fields"}}` (one shape across the product; `fields` maps a
    LeadEngine field to its messages), plus the flat `detail`, `code` and extras (`errors`,
    `warnings`, `retryable`, `reason`) that senders already parse."""
    fields = {}
    for problem in field_errors:
        fields.setdefault(problem["field"], []).append(problem["message"])
    envelope = {"code": code, "message": message, "fields": fields}
    return {"error": envelope, "detail": message, "code": code, **extra}


class InboundError(Exception):
    """A request the endpoint refuses, with everything its answer needs: the HTTP status, a
    stable `code`, a human `message`, extra body `fields` (e.g. `errors`) and `headers`
    (`WWW-Authenticate`, `Retry-After`)."""

    def __init__(self, status_code, code, message, *, fields=None, headers=None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.fields = fields or {}
        self.headers = headers or {}

    def as_body(self):
        return inbound_error_body(
            self.code, self.message, field_errors=self.fields.get("errors", ()), **self.fields
        )
