"""The one error type of the Receive Data boundary."""


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
        """The JSON body every refusal gets: `{"detail", "code", ...fields}`."""
        return {"detail": self.message, "code": self.code, **self.fields}
