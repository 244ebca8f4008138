"""Reading and parsing request bodies of the Receive Data endpoint, within our own limits.

Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` is never involved: the body is read from the stream,
capped at 1 MiB + 1 byte, and parsed here. Accepted: JSON (`application/json`, `*+json`),
`application/x-www-form-urlencoded`, `multipart/form-data` without files; UTF-8 only.
"""

import io
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.core.files.uploadhandler import load_handler
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.utils.http import parse_header_parameters

from . import mapping
from .errors import InboundError

MAX_BODY_BYTES = 1024 * 1024
MAX_BATCH_RECORDS = 1000
MAX_JSON_DEPTH = 64
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data"


@dataclass(frozen=True)
class ReceivedBody:
    """The bytes of a body as read. `raw` is None for a body over the limit (never kept);
    `error` is the refusal to answer once the sender is known (413, or 400 for a bad
    Content-Length), so an unauthenticated sender still gets its 401 first."""

    raw: bytes | None
    size: int
    error: InboundError | None = None

    @classmethod
    def from_bytes(cls, raw):
        if len(raw) > MAX_BODY_BYTES:
            return cls(raw=None, size=len(raw), error=_too_large())
        return cls(raw=raw, size=len(raw))


def _too_large():
    return InboundError(413, "body_too_large", f"The body is over the limit of {MAX_BODY_BYTES} bytes.")


def read_body(meta, stream):
    """Read a request's body: `meta` is the WSGI environ (request.META), `stream` the
    request's body stream (None when it declared no length)."""
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        error = InboundError(400, "invalid_content_length", "Content-Length is not a number.")
        return ReceivedBody(raw=b"", size=0, error=error)
    if declared > MAX_BODY_BYTES:
        return ReceivedBody(raw=None, size=declared, error=_too_large())
    if not meta.get("CONTENT_LENGTH") and meta.get("wsgi.input_terminated"):
        # A chunked body (gunicorn sets wsgi.input_terminated): Django's stream would read
        # it as empty, so read the server's terminated input, still capped below.
        stream = meta["wsgi.input"]
    # One byte more than allowed, so a body longer than the limit is caught while reading
    # too (chunked bodies have no Content-Length to check up front).
    return ReceivedBody.from_bytes(stream.read(MAX_BODY_BYTES + 1) if stream is not None else b"")


def parse_body(raw, content_type):
    """The document of a body: a dict (one record) or a list of dicts (a batch).
    `content_type` is the Content-Type header as sent."""
    if not raw.strip():
        raise InboundError(
            400, "empty_body", "The body is empty: send a JSON object, a JSON array or form fields."
        )
    media_type, params = parse_header_parameters(content_type or "")
    charset = params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise InboundError(415, "unsupported_charset", f"Charset {charset} is not supported: send UTF-8.")
    if media_type == JSON_TYPE or media_type.endswith("+json"):
        document = parse_json(raw)
        if not isinstance(document, dict | list):
            raise InboundError(400, "invalid_body", "The JSON body must be an object or an array of objects.")
    elif media_type == FORM_TYPE:
        document = _parse_form(raw)
    elif media_type == MULTIPART_TYPE:
        document = _parse_multipart(raw, content_type)
    else:
        raise InboundError(
            415,
            "unsupported_content_type",
            f"Content-Type {media_type or 'none'} is not supported: "
            f"use {JSON_TYPE}, {FORM_TYPE} or {MULTIPART_TYPE}.",
        )
    _check_records(document)
    return document


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _parse_int(text):
    # Python refuses integers of more than 4,300 digits with a hint to call
    # sys.set_int_max_str_digits(), which means nothing to a sender. Such a number is kept as
    # its text: the field it is mapped to reports it in our words and the rest of the lead
    # is kept; unmapped, it harms nothing.
    try:
        return int(text)
    except ValueError:
        return text


def parse_json(raw, max_depth=MAX_JSON_DEPTH):
    """A JSON document from UTF-8 bytes; NaN/Infinity and nesting deeper than `max_depth`
    are refused (400 InboundError)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InboundError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
    too_deep = InboundError(400, "too_deep", f"The JSON body is nested deeper than {max_depth} levels.")
    try:
        document = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except RecursionError:
        raise too_deep from None
    except ValueError as exc:
        raise InboundError(400, "invalid_json", f"The body is not valid JSON: {exc}") from None
    if _depth_exceeds(document, max_depth):
        raise too_deep
    return document


def _depth_exceeds(document, max_depth):
    """Iterative, so a deep document can't overflow the stack here."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        if isinstance(node, dict):
            stack.extend((value, depth + 1) for value in node.values())
        elif isinstance(node, list):
            stack.extend((value, depth + 1) for value in node)
    return False


def _parse_form(raw):
    try:
        pairs = parse_qsl(
            raw.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=False,
            max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS,
        )
    except UnicodeDecodeError:
        raise InboundError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
    except ValueError:
        raise InboundError(400, "too_many_fields", "The form has too many fields.") from None
    return _form_document(pairs)


def _parse_multipart(raw, content_type):
    meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(raw))}
    handlers = [load_handler(path) for path in settings.FILE_UPLOAD_HANDLERS]
    try:
        fields, files = MultiPartParser(meta, io.BytesIO(raw), handlers, "utf-8").parse()
    except (MultiPartParserError, TooManyFieldsSent, UnicodeDecodeError) as exc:
        raise InboundError(400, "invalid_multipart", f"The multipart body can't be read: {exc}") from None
    if files:
        raise InboundError(415, "files_not_accepted", "File uploads are not accepted: send form fields only.")
    return _form_document([(key, value) for key, values in fields.lists() for value in values])


def _form_document(pairs):
    if not pairs:
        raise InboundError(400, "invalid_form", "The body has no form fields.")
    return mapping.form_document(pairs)


def _check_records(document):
    if isinstance(document, dict):
        return
    if not document:
        raise InboundError(400, "empty_batch", "The JSON array is empty: send at least one record.")
    if len(document) > MAX_BATCH_RECORDS:
        raise InboundError(
            413,
            "batch_too_large",
            f"The batch has {len(document)} records; the maximum is {MAX_BATCH_RECORDS}. Nothing was saved.",
        )
    for index, item in enumerate(document):
        if not isinstance(item, dict):
            raise InboundError(
                422,
                "invalid_record",
                f"Record {index} of the batch is not a JSON object. Nothing was saved.",
                fields={"errors": [{"field": None, "path": str(index), "message": "not a JSON object"}]},
            )
