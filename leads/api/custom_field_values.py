"""Typed values of custom fields: what a lead may store under each CustomField type."""

import datetime
import math

from leads.models import CustomField

MAX_TEXT_LENGTH = 10_000


class CustomValueError(ValueError):
    pass


def _text(value):
    if not isinstance(value, str):
        raise CustomValueError("Expected a string.")
    if "\x00" in value:
        raise CustomValueError("Null characters are not allowed.")
    if len(value) > MAX_TEXT_LENGTH:
        raise CustomValueError(f"At most {MAX_TEXT_LENGTH} characters.")
    return value


def _number(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CustomValueError("Expected a number.")
    if isinstance(value, float) and not math.isfinite(value):
        raise CustomValueError("Expected a finite number.")
    return value


def _date(value):
    if not isinstance(value, str):
        raise CustomValueError("Expected a date as YYYY-MM-DD.")
    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise CustomValueError(f"Expected a date as YYYY-MM-DD, got {value!r}.") from None


def _boolean(value):
    if not isinstance(value, bool):
        raise CustomValueError("Expected true or false.")
    return value


def _list(value):
    if not isinstance(value, list):
        raise CustomValueError("Expected a list of strings.")
    return [_text(item) for item in value]


CLEANERS = {
    CustomField.Type.TEXT: _text,
    CustomField.Type.NUMBER: _number,
    CustomField.Type.DATE: _date,
    CustomField.Type.BOOLEAN: _boolean,
    CustomField.Type.LIST: _list,
}


def clean_custom_values(values, types_by_key):
    """Check `values` against the workspace's definitions (`{key: type}`).

    Returns the cleaned dict (null means "remove this key") or raises
    `CustomValueError` carrying `{key: message}` for every bad key.
    """
    cleaned, errors = {}, {}
    for key, value in values.items():
        if key not in types_by_key:
            errors[key] = f"Unknown custom field {key!r}: define it first (custom-fields)."
        elif value is None:
            cleaned[key] = None
        else:
            try:
                cleaned[key] = CLEANERS[types_by_key[key]](value)
            except CustomValueError as exc:
                errors[key] = str(exc)
    if errors:
        raise CustomValueError(errors)
    return cleaned
