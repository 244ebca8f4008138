"""Typed values of custom fields through the REST API.

The value rules (lengths, date format, control characters) live in `leads.coercion`, shared
with inbound webhooks. The API adds one thing: a typed JSON API converts nothing implicitly,
so `"yes"` is not a boolean and `5` is not text here, while an inbound form post may say so.
"""

from leads.coercion import CoercionError, coerce_custom
from leads.models import CustomField


class CustomValueError(ValueError):
    pass


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


JSON_TYPE_OF = {
    CustomField.Type.TEXT: (lambda value: isinstance(value, str), "Expected a string."),
    CustomField.Type.NUMBER: (_is_number, "Expected a number."),
    CustomField.Type.DATE: (lambda value: isinstance(value, str), "Expected a date as YYYY-MM-DD."),
    CustomField.Type.BOOLEAN: (lambda value: isinstance(value, bool), "Expected true or false."),
    CustomField.Type.LIST: (
        lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
        "Expected a list of strings.",
    ),
}


def clean_custom_value(field_type, value):
    has_json_type, message = JSON_TYPE_OF[field_type]
    if not has_json_type(value):
        raise CustomValueError(message)
    try:
        return coerce_custom(field_type, value)
    except CoercionError as exc:
        raise CustomValueError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None


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
                cleaned[key] = clean_custom_value(types_by_key[key], value)
            except CustomValueError as exc:
                errors[key] = str(exc)
    if errors:
        raise CustomValueError(errors)
    return cleaned
