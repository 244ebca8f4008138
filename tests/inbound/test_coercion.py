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
        ("website", "mailto:a@b.example"),  # not turned into https://mailto:a@b.example
        ("website", "javascript:alert(1)"),
        ("website", "localhost"),
        ("number_of_employees", "1,2"),
        ("number_of_employees", "1.200,50"),
        ("number_of_employees", "1,200 300"),  # two kinds of separator
        ("number_of_employees", "inf"),
        ("number_of_employees", "1e999"),
        ("business_email", "a@xn--zzzz.de"),
    ],
)
def test_values_that_do_not_fit_are_rejected(key, raw):
    with pytest.raises((CoercionError, KeyError)):
        coerce_default(key, raw)


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("website", "example.com", "https://example.com"),
        ("website", "www.example.com/pricing?a=1", "https://www.example.com/pricing?a=1"),
        ("website", "//cdn.example.com/x", "https://cdn.example.com/x"),
        ("website", "example.com:8080", "https://example.com:8080"),
        ("website", "http://example.com", "http://example.com"),
        ("person_linkedin", "linkedin.com/in/ada", "https://linkedin.com/in/ada"),
        ("number_of_employees", "$1,200", 1200),
        ("number_of_employees", "1 200", 1200),
        ("number_of_employees", "1\u202f200", 1200),
        ("number_of_employees", "€ 99", 99),
        ("number_of_employees", "99 €", 99),
        ("business_email", "a@BÜ.de", "a@xn--b-eha.de"),
        ("business_email", "a@faß.de", "a@xn--fa-hia.de"),  # IDNA 2008 keeps ß (2003 made it ss)
    ],
)
def test_values_are_read_the_way_a_person_would_write_them(key, raw, expected):
    assert coerce_default(key, raw) == expected


def test_custom_number_too_large_for_a_float_is_refused_in_our_words():
    with pytest.raises(CoercionError, match="too large"):
        coerce_custom("number", 10**400)
