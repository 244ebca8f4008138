"""Source paths into received documents: pure functions, no database.

A path is `/`-separated. Each segment is first tried as a literal key (real keys contain
spaces, dots and brackets), then, on arrays: a number indexes, `*` collects from every
element, `[key=value]` picks the first element whose `key` equals `value`. A string met with
segments left over is parsed as JSON when it looks like a document (Unbounce's `data.json`,
Jotform's `rawRequest`), so `data.json/email` reaches into it.
"""

import functools
import json
import re

MISSING = object()
_SELECTOR = re.compile(r"^\[([^=\]]+)=([^\]]*)\]$")
MAX_FLATTENED_PATHS = 500


def split_path(path):
    return [segment for segment in path.strip().strip("/").split("/") if segment != ""]


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
        key, wanted = selector.groups()
        for item in items:
            if isinstance(item, dict) and key in item and _as_text(item[key]) == wanted:
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


def extract(document, mappings):
    """Resolve each (field, path): returns ({field: (path, raw value)}, [missing paths])."""
    found, missing = {}, []
    for field, path in mappings:
        value = resolve(document, path)
        if value is MISSING:
            missing.append(path)
        else:
            found[field] = (path, value)
    return found, missing


def unmapped_keys(document, paths):
    """Top-level keys that no mapping reads (for form bodies, `a[b]` counts as read by `a/...`)."""
    if not isinstance(document, dict):
        return []
    first_segments = {segments[0] for segments in map(split_path, paths) if segments}
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
