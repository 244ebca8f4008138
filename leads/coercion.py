"""Typed values from loosely typed input (webhook bodies), one function per field type.

`coerce_default(key, value)` and `coerce_custom(type, value)` return the Python value to
store, or raise CoercionError with a message an API user can act on. Decisions:
- an array given for a scalar field yields its first element (article: multi-value arrays);
- control characters (C0/C1 except tab, newline, carriage return) and unpaired surrogates
  are rejected, not stripped: silently altering data hides sender bugs, and PostgreSQL
  cannot store NUL at all;
- strings are trimmed and checked against the column's length (255 for text columns);
- datetimes are ISO 8601; a naive one is taken as UTC; a bare date is midnight UTC;
- forgiving where a human would be, and only where the reading is unambiguous: a URL
  without a scheme gets `https://`; numbers may carry a currency sign and thousands
  separators (`$1,200`, `1 200`, `€ 99`), but `1,2` or `1.200,50` are refused rather than
  guessed; booleans accept the usual words (yes/no, y/n, true/false, on/off, 1/0,
  checked/unchecked), case-insensitively;
- messages are ours: nothing from Python's own errors reaches the sender.
"""

import datetime
import math
import re
import unicodedata

import idna
import phonenumbers
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
# Python refuses to parse integers longer than this (sys.get_int_max_str_digits()); far
# beyond any range we store, so longer digit strings are "out of range" without parsing.
MAX_INTEGER_DIGITS = 30
_TRUE = {"true", "yes", "on", "1", "y", "t", "checked"}
_FALSE = {"false", "no", "off", "0", "n", "f", "unchecked", ""}
_validate_url = URLValidator(schemes=["http", "https"])
_HAS_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
# A host with a dot, an optional port, then a path, query, fragment or the end: `example.com`,
# `www.example.com/pricing`. Not `mailto:a@b.co` or `javascript:…` (a colon not followed by a
# port, or an @), which must stay invalid rather than become https://mailto:a@b.co.
_BARE_HOST = re.compile(r"[^\s/:@?#]+\.[^\s/:@?#]+(?::\d{1,5})?(?:[/?#]\S*)?")
# Thousands separators: one kind (comma, space, no-break or thin space) between groups of
# exactly three digits, then an optional decimal part with a point.
_GROUPED_NUMBER = re.compile(r"\d{1,3}(?P<sep>[, \u00a0\u202f\u2009])\d{3}(?:(?P=sep)\d{3})*(?:\.\d+)?")


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
    if not _domain_is_valid_idna(value.rpartition("@")[2]):
        raise CoercionError(f"“{value}” has a domain that is not a valid internationalised domain name")
    try:
        validate_email(value)
    except ValidationError:
        raise CoercionError(f"“{value}” is not a valid email address") from None
    return value


def _domain_is_valid_idna(domain):
    # normalize_email leaves a Unicode domain only when IDNA 2008 refused it; an ASCII one
    # with `xn--` labels must decode, or it names no domain anyone can register.
    if not domain.isascii():
        return False
    if "xn--" not in domain:
        return True
    try:
        idna.decode(domain)
    except idna.IDNAError:
        return False
    return True


def clean_url(value):
    value = clean_text(value, URL_MAX_LENGTH)
    if not value:
        return value
    if value.startswith("//"):
        value = "https:" + value
    elif not _HAS_SCHEME.match(value) and _BARE_HOST.fullmatch(value):
        # Forms ask for "your website" and people type `example.com`.
        value = "https://" + value
    if len(value) > URL_MAX_LENGTH:
        raise CoercionError(f"is {len(value)} characters long; the maximum is {URL_MAX_LENGTH}")
    try:
        _validate_url(value)
    except ValidationError:
        raise CoercionError(f"“{_shown(value)}” is not a valid http(s) URL") from None
    return value


def phone_e164(text, region=""):
    """`text` as an E.164 number (+15550100), or None when it can't be read as one: no
    country code and no default `region`, or a length no number of that country has.
    "Possible" rather than "valid" numbers: the check of length only, so a real number in a
    range the metadata doesn't know yet (and the 555 numbers of every example) still reads."""
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_phone(value, region=""):
    """Phones are stored in E.164 when they can be read as a number, so `+1 555 0100` and
    `+15550100` are one value (and dedupe to one lead); text that isn't a readable number is
    kept as sent, as before (an extension note or a national number without a region)."""
    text = clean_text(value)
    return (phone_e164(text, region) or text) if text else text


def clean_integer(value, minimum=0, maximum=INTEGER_MAX):
    value = first_scalar(value)
    if isinstance(value, str):
        value = _parse_number(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CoercionError(f"expected a whole number, got {_kind(value)}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CoercionError(f"{_shown(value)} is out of range ({minimum} to {maximum})")
        if not value.is_integer():
            raise CoercionError(f"{_shown(value)} is not a whole number")
        value = int(value)
    if not minimum <= value <= maximum:
        raise CoercionError(f"{_shown(value)} is out of range ({minimum} to {maximum})")
    return value


def clean_number(value):
    value = first_scalar(value)
    if isinstance(value, str):
        value = _parse_number(value)
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CoercionError(f"expected a number, got {_kind(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an int too large for a float
        finite = False
    if not finite:
        raise CoercionError(f"{_shown(value)} is too large a number")
    return value


def _parse_number(text):
    """An int or float from text a person typed: sign, currency sign, thousands separators."""
    shown = _shown(text.strip())
    text = text.strip()
    sign = text[:1] if text[:1] in "+-" else ""
    text = text[len(sign) :].strip()
    if text[:1] and unicodedata.category(text[0]) == "Sc":
        text = text[1:].strip()
    if text[-1:] and unicodedata.category(text[-1]) == "Sc":
        text = text[:-1].strip()
    if not sign and text[:1] in "+-":  # "$-5"
        sign, text = text[0], text[1:]
    if _GROUPED_NUMBER.fullmatch(text):
        text = re.sub(r"[^\d.]", "", text)
    if re.fullmatch(r"\d+", text):
        digits = text.lstrip("0") or "0"
        if len(digits) > MAX_INTEGER_DIGITS:
            raise CoercionError(f"“{shown}” is out of range (a number of {len(digits)} digits)")
        return int(sign + digits)
    if not re.fullmatch(r"(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d{1,3})?", text, re.IGNORECASE):
        raise CoercionError(f"“{shown}” is not a number")
    number = float(sign + text)
    if not math.isfinite(number):
        raise CoercionError(f"“{shown}” is too large a number")
    return number


def _shown(value):
    """A value quoted in a message: long ones are cut (a 4,301-digit number is not echoed)."""
    text = value if isinstance(value, str) else _number_text(value)
    return text if len(text) <= 50 else text[:49] + "…"


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
    raise CoercionError(
        f"“{_shown(str(value))}” is not a boolean (true/false, yes/no, y/n, on/off, 1/0, checked/unchecked)"
    )


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
    FieldType.PHONE: clean_phone,
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


def coerce_default(key, value, *, phone_region=""):
    """`phone_region` is the default country of national phone numbers (see clean_phone)."""
    spec = DEFAULT_FIELDS_BY_KEY[key]
    cleaner = _DEFAULT_CLEANERS.get(spec.type)
    if cleaner is None or not spec.writable:
        raise CoercionError(f"{key} is kept by LeadEngine and can't be written")
    if spec.type == FieldType.PHONE:
        return clean_phone(value, phone_region)
    return cleaner(value)


def coerce_custom(field_type, value):
    return _CUSTOM_CLEANERS[field_type](value)
