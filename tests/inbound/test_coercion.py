import datetime

import pytest

from leads.coercion import CoercionError, coerce_custom, coerce_default


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("business_email", " Ada@Example.COM ", "ada@example.com"),
        ("business_email", "ａｄａ@example.com", "ada@example.com"),  # NFKC folds full-width letters
        ("first_name", ["Ada", "Grace"], "Ada"),
        ("mobile_phone", 15555550142, "15555550142"),
        ("number_of_employees", "1,200", 1200),
        ("number_of_employees", 12.0, 12),
        (
            "created_date",
            "2024-10-02T10:28:20-05:00",
            datetime.datetime(2024, 10, 2, 15, 28, 20, tzinfo=datetime.UTC),
        ),
        ("created_date", "2024-10-02", datetime.datetime(2024, 10, 2, tzinfo=datetime.UTC)),
        (
            "created_date",
            "2024-10-02 15:28:20",
            datetime.datetime(2024, 10, 2, 15, 28, 20, tzinfo=datetime.UTC),
        ),
        ("tags", "solo", ["solo"]),
        ("tags", ["a", "a", None, "b"], ["a", "b"]),
        ("lead_status", "meeting_booked", "Meeting Booked"),
        ("about", "line one\r\nline two\tend", "line one\r\nline two\tend"),
    ],
)
def test_default_fields_are_coerced_to_their_type(key, raw, expected):
    assert coerce_default(key, raw) == expected


@pytest.mark.parametrize(
    ("type_", "raw", "expected"),
    [
        ("number", "3.5", 3.5),
        ("number", 7, 7),
        ("boolean", "yes", True),
        ("boolean", 0, False),
        ("date", "2024-10-02T15:00:00Z", "2024-10-02"),
        ("list", "one", ["one"]),
        ("text", 5, "5"),
    ],
)
def test_custom_fields_are_coerced_to_their_type(type_, raw, expected):
    assert coerce_custom(type_, raw) == expected


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("lead_status_history", []),
        ("modified_date", "2024-01-01"),
        ("business_email", "a@b"),
        ("number_of_emails", 2**40),
        ("tags", ["x"] * 101),
        ("website", "ftp://x.example"),
    ],
)
def test_values_that_do_not_fit_are_rejected(key, raw):
    with pytest.raises((CoercionError, KeyError)):
        coerce_default(key, raw)
