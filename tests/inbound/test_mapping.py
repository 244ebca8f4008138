"""The path resolver and body parsing, as pure functions."""

import pytest

from webhooks.inbound import mapping
from webhooks.inbound.body import parse_json
from webhooks.inbound.errors import InboundError
from webhooks.inbound.mapping import MISSING, resolve

DOC = {
    "email": "a@b.co",
    "First Name": "Ada",
    "1.3": "dotted",
    "data[merges][FNAME]": "literal",
    "contact": {"work": {"email": "w@b.co"}},
    "tags": [{"name": "x"}, {"name": "y"}, {"other": 1}],
    "field_data": [{"name": "phone", "values": ["1"]}, {"name": "email", "values": ["e@b.co", "f@b.co"]}],
    "nums": [10, 20],
    "0": "zero key",
    "embedded": '{"inner": {"k": "v"}}',
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("email", "a@b.co"),
        ("/email/", "a@b.co"),
        ("First Name", "Ada"),
        ("1.3", "dotted"),
        ("data[merges][FNAME]", "literal"),
        ("contact/work/email", "w@b.co"),
        ("nums/1", 20),
        ("nums", [10, 20]),
        ("tags/*/name", ["x", "y"]),
        ("field_data/[name=email]/values/0", "e@b.co"),
        ("field_data/[name=email]/values", ["e@b.co", "f@b.co"]),
        ("0", "zero key"),
        ("embedded/inner/k", "v"),
    ],
)
def test_resolve_finds_literal_keys_nested_paths_indexes_and_selectors(path, expected):
    assert resolve(DOC, path) == expected


@pytest.mark.parametrize(
    "path", ["nope", "contact/home/email", "nums/5", "field_data/[name=fax]/values/0", "email/x", "tags/x"]
)
def test_resolve_reports_missing_paths(path):
    assert resolve(DOC, path) is MISSING


def test_literal_key_wins_over_array_semantics():
    assert resolve({"items": {"0": "literal zero"}}, "items/0") == "literal zero"
    assert resolve({"list": {"*": "star"}}, "list/*") == "star"


def test_form_document_keeps_literal_keys_and_adds_nested_paths():
    document = mapping.form_document(
        [
            ("data[merges][FNAME]", "Ada"),
            ("tag", "a"),
            ("tag", "b"),
            ("colors[]", "red"),
            ("colors[]", "blue"),
        ]
    )
    assert resolve(document, "data[merges][FNAME]") == "Ada"
    assert resolve(document, "data/merges/FNAME") == "Ada"
    assert resolve(document, "tag") == ["a", "b"]
    assert resolve(document, "colors") == ["red", "blue"]


def test_a_literal_form_key_is_not_overwritten_by_a_bracketed_alias():
    document = mapping.form_document([("data", "plain"), ("data[x]", "nested")])
    assert resolve(document, "data") == "plain"
    assert resolve(document, "data[x]") == "nested"


def test_unmapped_keys_are_top_level_keys_no_mapping_reads():
    document = mapping.form_document([("email", "a"), ("data[merges][FNAME]", "b"), ("utm", "c")])
    assert mapping.unmapped_keys(document, ["email", "data/merges/FNAME"]) == ["utm"]


def test_flatten_lists_every_leaf_path_with_an_example_value():
    rows = dict(mapping.flatten({"a": {"b": 1}, "list": [{"c": "x"}], "doc": '{"d": 2}'}))
    assert rows == {"a/b": 1, "list/0/c": "x", "doc": '{"d": 2}', "doc/d": 2}


def test_parse_json_rejects_deep_nesting_without_recursion_error():
    with pytest.raises(InboundError) as error:
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    assert error.value.code == "too_deep"
