"""Typed values from loosely typed input (webhook bodies), one function per field type.

`coerce_default(key, value)` and `coerce_custom(type, value)` return the Python value to
store, or raise CoercionError with a message an API user can act on. Decisions:
- an array given for a scalar field yields its first element (article: multi-value arrays);
- control characters (C0/C1 except tab, newline, carriage return) and unpaired surrogates
  are rejected, not stripped: silently altering data hides sender bugs, and PostgreSQL
  cannot store NUL at all;
- strings are trimmed and checked against the column's length (255 for text columns);
- datetimes are ISO 8601; a naive one is taken as UTC; a bare date is midnight UTC;
- booleans accept true/false, yes/no, on/off, 1/0 (forms send strings).
"""

import datetime
import math
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils.dateparse import parse_date, parse_datetime

from .catalogue import DEFAULT_FIELDS_BY_KEY, FieldType
from .models import LeadStatus, normalize_email

TEXT_MAX_LENGTH = 255
URL_MAX_LENGTH = 500
EMAIL_MAX_LENGTH = 254
LONG_TEXT_MAX_LENGTH = 100_000
LIST_MAX_ITEMS = 100
INTEGER_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f", ""}
_validate_url = URLValidator(schemes=["http", "https"])


class CoercionError(ValueError):
    pass


def first_scalar(value):
    """The first element of an array (recursively), else the value itself; None when empty."""
    while isinstance(value, list):
        value = value[0] if value else None
    return value


def clean_text(value, max_length=TEXT_MAX_LENGTH):
    value = first_scalar(value)
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = _number_text(value)
    elif not isinstance(value, str):
        raise CoercionError(f"expected text, got {_kind(value)}")
    value = value.strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise CoercionError("contains invalid Unicode (an unpaired surrogate)") from None
    if _CONTROL.search(value):
        raise CoercionError("contains control characters")
    if len(value) > max_length:
        raise CoercionError(f"is {len(value)} characters long; the maximum is {max_length}")
    return value


def _number_text(value):
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _kind(value):
    return {dict: "an object", list: "an array", type(None): "null"}.get(type(value), type(value).__name__)


def clean_email(value):
    value = clean_text(value, EMAIL_MAX_LENGTH)
    if not value:
        return ""
    if any(unicodedata.category(char) == "Cf" for char in value):
        raise CoercionError("contains invisible formatting characters")
    value = normalize_email(value)
    try:
        validate_email(value)
    except ValidationError:
        raise CoercionError(f"“{value}” is not a valid email address") from None
    return value


def clean_url(value):
    value = clean_text(value, URL_MAX_LENGTH)
    if value:
        try:
            _validate_url(value)
        except ValidationError:
            raise CoercionError(f"“{value}” is not a valid http(s) URL") from None
    return value


def clean_integer(value, minimum=0, maximum=INTEGER_MAX):
    value = first_scalar(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            value = int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
        except ValueError:
            raise CoercionError(f"“{value.strip()[:50]}” is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CoercionError(f"expected a whole number, got {_kind(value)}")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise CoercionError(f"{value} is not a whole number")
        value = int(value)
    if not minimum <= value <= maximum:
        raise CoercionError(f"{value} is out of range ({minimum} to {maximum})")
    return value


def clean_number(value):
    value = first_scalar(value)
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", ""))
        except ValueError:
            raise CoercionError(f"“{value.strip()[:50]}” is not a number") from None
        value = int(value) if value.is_integer() and abs(value) < 2**53 else value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CoercionError(f"expected a number, got {_kind(value)}")
    return value


def clean_datetime(value):
    text = clean_text(value, 64)
    try:
        moment = parse_datetime(text.replace(" ", "T", 1) if " " in text else text)
        if moment is None:
            day = parse_date(text)
            moment = day and datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)
    except ValueError:
        moment = None
    if moment is None:
        raise CoercionError(f"“{text[:50]}” is not an ISO 8601 date or date-time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC)


def clean_date(value):
    text = clean_text(value, 64)
    try:
        day = parse_date(text[:10]) if len(text) >= 10 else None
    except ValueError:
        day = None
    if day is None:
        raise CoercionError(f"“{text[:50]}” is not an ISO 8601 date")
    return day.isoformat()


def clean_boolean(value):
    value = first_scalar(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise CoercionError(f"“{str(value)[:50]}” is not a boolean (true/false)")


def clean_string_list(value):
    items = value if isinstance(value, list) else [value]
    if len(items) > LIST_MAX_ITEMS:
        raise CoercionError(f"has {len(items)} items; the maximum is {LIST_MAX_ITEMS}")
    cleaned = []
    for item in items:
        if item is None:
            continue
        text = clean_text(item, 200)
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


def clean_status(value):
    text = clean_text(value, 50)
    by_lower = {status.value.lower(): status.value for status in LeadStatus}
    status = by_lower.get(" ".join(text.replace("_", " ").split()).lower())
    if status is None:
        raise CoercionError(f"“{text[:50]}” is not a lead status (one of: {', '.join(LeadStatus.values)})")
    return status


_DEFAULT_CLEANERS = {
    FieldType.TEXT: clean_text,
    FieldType.PHONE: clean_text,
    FieldType.LONG_TEXT: lambda value: clean_text(value, LONG_TEXT_MAX_LENGTH),
    FieldType.EMAIL: clean_email,
    FieldType.URL: clean_url,
    FieldType.INTEGER: clean_integer,
    FieldType.DATETIME: clean_datetime,
    FieldType.STRING_LIST: clean_string_list,
    FieldType.RELATION_LIST: clean_string_list,
    FieldType.STATUS: clean_status,
}

_CUSTOM_CLEANERS = {
    "text": lambda value: clean_text(value, 1000),
    "number": clean_number,
    "date": clean_date,
    "boolean": clean_boolean,
    "list": clean_string_list,
}


def coerce_default(key, value):
    spec = DEFAULT_FIELDS_BY_KEY[key]
    cleaner = _DEFAULT_CLEANERS.get(spec.type)
    if cleaner is None or not spec.writable:
        raise CoercionError(f"{key} is kept by LeadEngine and can't be written")
    return cleaner(value)


def coerce_custom(field_type, value):
    return _CUSTOM_CLEANERS[field_type](value)
