"""Source paths into received documents: pure functions, no database.

A path is `/`-separated (a `/` inside `[...]` doesn't split). Each segment is first tried as
a literal key (real keys contain spaces, dots and brackets), then, on arrays: a number
indexes, `*` collects from every element, `[key=value]` picks the first element whose `key`
(itself a path: `[field/id=abc]`) equals `value`, `[key!=value]` the first whose doesn't. A
string met with segments left over is parsed as JSON when it looks like a document
(Unbounce's `data.json`, Jotform's `rawRequest`), so `data.json/email` reaches into it.

A mapping row's source is one or more paths separated by `|` (`email | contact/email`): the
first non-empty wins, or every non-empty one is collected into a list (`combine="all"`).
"""

import functools
import json
import re
from dataclasses import dataclass, field

from .transforms import TransformContext, TransformError, is_empty, steps_apply

MISSING = object()
_SELECTOR = re.compile(r"^\[(?P<key>[^=!\]]+?)(?P<operator>!=|=)(?P<value>.*)\]$")
MAX_FLATTENED_PATHS = 500


class Combine:
    """How a row with several source paths makes one value."""

    FIRST = "first"  # the first path with a non-empty value
    ALL = "all"  # every non-empty value, in path order, as one list


def _split_outside_brackets(text, separator):
    parts, current, depth = [], [], 0
    for character in text:
        if character == "[":
            depth += 1
        elif character == "]" and depth:
            depth -= 1
        if character == separator and not depth:
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    return parts


def split_path(path):
    """Segments of a path; `/` inside `[...]` is part of its selector (`[field/id=x]`)."""
    return list(_path_segments(path))


def split_sources(source_path):
    """The paths of a row's source: `email | contact/email` → ["email", "contact/email"]."""
    return list(_source_paths(source_path or ""))


# A webhook's few paths are split for every record of every post (40,000 splits a batch of
# 1,000 with 10 rows: 12 % of its time, profiled): split each distinct text once.
@functools.lru_cache(maxsize=4096)
def _path_segments(path):
    return tuple(
        segment for segment in _split_outside_brackets(path.strip().strip("/"), "/") if segment != ""
    )


@functools.lru_cache(maxsize=4096)
def _source_paths(source_path):
    return tuple(part.strip() for part in _split_outside_brackets(source_path, "|") if part.strip())


def resolve(document, path):
    """The value at `path`, or MISSING. `*` segments yield lists."""
    return _resolve(document, split_path(path))


def _resolve(node, segments):
    for position, segment in enumerate(segments):
        if isinstance(node, str):
            node = _embedded_document(node)
        if isinstance(node, dict):
            if segment in node:
                node = node[segment]
                continue
            return MISSING
        if isinstance(node, list):
            if segment == "*":
                collected = [_resolve(item, segments[position + 1 :]) for item in node]
                return [value for value in collected if value is not MISSING]
            node = _pick(node, segment)
            if node is MISSING:
                return MISSING
            continue
        return MISSING
    return node


def _pick(items, segment):
    if segment.isdigit():
        index = int(segment)
        return items[index] if index < len(items) else MISSING
    selector = _SELECTOR.match(segment)
    if selector:
        key_path, wanted = split_path(selector["key"]), selector["value"]
        equal = selector["operator"] == "="
        for item in items:
            if not isinstance(item, dict):
                continue
            found = _resolve(item, key_path)
            if found is MISSING or isinstance(found, dict | list):
                continue
            if (_as_text(found) == wanted) == equal:
                return item
    return MISSING


def _as_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@functools.lru_cache(maxsize=16)
def _embedded_document(text):
    # Cached: several mapping rows usually read into the same embedded document. Callers
    # only read the result, so sharing it is safe.
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return text
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return text


# --- Form bodies -------------------------------------------------------------------------


_BRACKETED = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])+)$")


def form_document(pairs):
    """A document from form fields: repeated keys become arrays, and `a[b][c]` is reachable
    both as that literal key and as the path `a/b/c` (`a[]` collects into an array)."""
    document = {}
    for key, value in pairs:
        if key in document:
            previous = document[key]
            document[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            document[key] = value
    for key, value in list(document.items()):
        match = _BRACKETED.match(key)
        if match:
            segments = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
            _insert_nested(document, segments, value)
    return document


def _insert_nested(document, segments, value):
    if segments[-1] == "":
        segments = segments[:-1]
        value = value if isinstance(value, list) else [value]
    if not segments or "" in segments:
        return
    node = document
    for segment in segments[:-1]:
        child = node.setdefault(segment, {})
        if not isinstance(child, dict):
            return  # a literal key of the same name wins
        node = child
    node.setdefault(segments[-1], value)


# --- Applying a mapping ------------------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    """One mapping row, as the pure functions need it (FieldMapping.as_row())."""

    field: str
    source_path: str
    combine: str = Combine.FIRST
    transforms: list = field(default_factory=list)
    clear_when_empty: bool = False


@dataclass
class RowValue:
    """What a row made of a document. `present`: some source path exists in the document
    (a row whose path is absent never clears a field); `steps`: (label, value) after the
    source and after each transform, for the preview."""

    value: object = None
    present: bool = False
    missing_paths: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    error: str | None = None


def row_value(document, row, *, phone_region=""):
    """The raw value of one row: its source paths combined, then its transforms applied."""
    result = RowValue()
    paths = split_sources(row.source_path)
    found = []
    for path in paths:
        value = resolve(document, path)
        if value is MISSING:
            result.missing_paths.append(path)
            continue
        result.present = True
        if row.combine == Combine.ALL:
            found += [item for item in (value if isinstance(value, list) else [value]) if not is_empty(item)]
        elif not is_empty(value):
            found = value
            break
        elif not found:
            found = value  # an empty value is kept: it may clear the field, or meet a default
    result.value = (found or None) if row.combine == Combine.ALL else (found if found != [] else None)
    if not paths:
        result.present = True  # a row made by its transforms alone (constant, template)
    result.steps.append((f"from {row.source_path}" if paths else "(no source path)", result.value))
    if row.transforms:
        context = TransformContext(document=document, phone_region=phone_region, resolve=resolve)
        try:
            result.value, trace = steps_apply(result.value, row.transforms, context)
        except TransformError as exc:
            result.error = str(exc)
            return result
        result.steps += trace
    if not is_empty(result.value):
        result.missing_paths = []  # a fallback path found it: the others aren't "missing"
    return result


def unmapped_keys(document, paths):
    """Top-level keys that no mapping reads (for form bodies, `a[b]` counts as read by `a/...`)."""
    if not isinstance(document, dict):
        return []
    every_path = [single for path in paths for single in split_sources(path)]
    first_segments = {segments[0] for segments in map(split_path, every_path) if segments}
    bases = {match.group(1) for match in map(_BRACKETED.match, document) if match}
    unmapped = []
    for key in document:
        base = _BRACKETED.match(key)
        if key in first_segments or (base and base.group(1) in first_segments):
            continue
        if key in bases:
            continue  # the nested alias of bracketed keys is reported through those keys
        unmapped.append(key)
    return unmapped


def flatten(document, limit=MAX_FLATTENED_PATHS, max_depth=32):
    """(path, example value) of every leaf, for building a mapping from a captured sample."""
    rows = []

    def walk(node, prefix, depth):
        if len(rows) >= limit:
            return
        if isinstance(node, str) and prefix:
            embedded = _embedded_document(node)
            if embedded is not node and isinstance(embedded, dict | list) and depth < max_depth:
                rows.append((prefix, node[:200]))
                walk(embedded, prefix, depth + 1)
                return
        if isinstance(node, dict) and depth < max_depth:
            for key, value in node.items():
                if "/" not in str(key):
                    walk(value, f"{prefix}/{key}" if prefix else str(key), depth + 1)
            return
        if isinstance(node, list) and node and depth < max_depth:
            for index, value in enumerate(node[:20]):
                walk(value, f"{prefix}/{index}" if prefix else str(index), depth + 1)
            return
        rows.append((prefix, node))

    walk(document, "", 0)
    return rows
