"""Per-row transforms of a mapping: a small registry of pure functions, no eval.

A row's transforms are a list of steps `{"op": name, "arg": value}` (`arg` only where the
operation takes one), applied in order to the value its source paths produced. Each
function takes (value, arg, context) and returns the new value, or raises TransformError
with a message the operator can act on. `context` carries what a few steps need besides
the value: the record's document (templates) and the webhook's default phone region.

Steps are validated (`steps_errors`) by `mapping_errors`, the one home for mapping
validity, so a bad step is refused in the admin and the API before it can run.
"""

import datetime
import json
import re
import string
from dataclasses import dataclass

from leads.coercion import phone_e164

MAX_STEPS = 20
MAX_PATTERN_LENGTH = 200
# Python's `re` has no timeout: a pattern is kept short, its subject is cut, and nested
# quantifiers (`(a+)+`, the classic catastrophic backtracking shape) are refused.
MAX_REGEX_SUBJECT = 2000
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{]")
MAX_TEMPLATE_LENGTH = 500
MAX_MAP_ENTRIES = 200


class TransformError(ValueError):
    pass


@dataclass(frozen=True)
class TransformContext:
    document: object = None
    phone_region: str = ""
    resolve: object = None  # mapping.resolve, passed in so this module stays below mapping.py


@dataclass(frozen=True)
class Transform:
    name: str
    function: object
    arg: str  # "none", "optional" or "required"
    help: str
    check: object = None  # arg -> error message or None


def is_empty(value):
    """Null, an empty list or a blank string: "no value" everywhere in a mapping."""
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _each(value, function):
    """Apply a text function to a value or to each element of a list."""
    if isinstance(value, list):
        return [function(item) for item in value]
    return function(value)


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise TransformError(f"expected text, got {'an object' if isinstance(value, dict) else 'a list'}")
    return str(value)


def _trim(value, arg, context):
    return _each(value, lambda item: _text(item).strip())


def _case(method):
    return lambda value, arg, context: _each(value, lambda item: getattr(_text(item), method)())


def _split(value, arg, context):
    delimiter = arg or ","
    items = value if isinstance(value, list) else [value]
    parts = []
    for item in items:
        parts += [part.strip() for part in _text(item).split(delimiter)]
    return [part for part in parts if part]


def _join(value, arg, context):
    separator = ", " if arg is None else arg
    items = value if isinstance(value, list) else [value]
    return separator.join(_text(item) for item in items if not is_empty(item))


def _phone(value, arg, context):
    region = (arg or context.phone_region or "").upper()

    def convert(item):
        text = _text(item).strip()
        if not text:
            return text
        number = phone_e164(text, region)
        if number is None:
            where = f"with default region {region}" if region else "without a country code or default region"
            raise TransformError(f"“{text[:50]}” is not a phone number ({where})")
        return number

    return _each(value, convert)


def _name_parts(value):
    words = _text(value[0] if isinstance(value, list) and value else value).split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def _first_name_of(value, arg, context):
    return _name_parts(value)[0]


def _last_name_of(value, arg, context):
    return _name_parts(value)[1]


def _default(value, arg, context):
    return arg if is_empty(value) else value


def _constant(value, arg, context):
    return arg


def _template(value, arg, context):
    fields = {}
    for name in _template_names(arg):
        if name == "value":
            found = value
        else:
            found = context.resolve(context.document, name) if context.resolve else None
        found = "" if found is None or not isinstance(found, str | int | float | bool | list) else found
        if isinstance(found, list):
            found = ", ".join(_text(item) for item in found if not is_empty(item))
        fields[name] = _text(found)
    # Placeholders are substituted by name only: no attribute or index access, no format spec.
    text = "".join(literal + fields.get(name, "") for literal, name, _spec, _conv in _parse_template(arg))
    return " ".join(text.split())  # a missing part leaves no double space: "{first} {last}"


def _parse_template(arg):
    return [
        (literal, name or "", spec, conversion)
        for literal, name, spec, conversion in string.Formatter().parse(arg)
    ]


def _template_names(arg):
    return [name for _literal, name, _spec, _conv in _parse_template(arg) if name]


def _check_template(arg):
    if not isinstance(arg, str) or not arg:
        return "needs a template text such as {first_name} {last_name}"
    if len(arg) > MAX_TEMPLATE_LENGTH:
        return f"is {len(arg)} characters long; the maximum is {MAX_TEMPLATE_LENGTH}"
    try:
        parsed = _parse_template(arg)
    except ValueError as exc:
        return f"is not a valid template ({exc}); write {{{{ and }}}} for literal braces"
    for _literal, name, spec, conversion in parsed:
        if spec or conversion:
            return f"placeholder {{{name}}} may not have a format or conversion (no “:” or “!”)"
    return None


def _date(value, arg, context):
    def convert(item):
        text = _text(item).strip()
        if not text:
            return text
        try:
            moment = datetime.datetime.strptime(text, arg)
        except ValueError:
            raise TransformError(f"“{text[:50]}” does not match the date format {arg}") from None
        has_time = any(directive in arg for directive in ("%H", "%I", "%M", "%S", "%p", "%z", "%X", "%c"))
        return moment.isoformat() if has_time else moment.date().isoformat()

    return _each(value, convert)


def _check_date(arg):
    if not isinstance(arg, str) or "%" not in arg:
        return "needs a strptime format such as %d/%m/%Y"
    return None


def _map(value, arg, context):
    by_key = {str(key): mapped for key, mapped in arg.items()}
    by_folded = {" ".join(str(key).split()).casefold(): mapped for key, mapped in arg.items()}

    def convert(item):
        if isinstance(item, dict | list):
            return item
        text = _text(item)
        if text in by_key:
            return by_key[text]
        return by_folded.get(" ".join(text.split()).casefold(), item)

    return _each(value, convert)


def _check_map(arg):
    if not isinstance(arg, dict) or not arg:
        return 'needs an object of source value → LeadEngine value, such as {"won": "Opportunity"}'
    if len(arg) > MAX_MAP_ENTRIES:
        return f"has {len(arg)} entries; the maximum is {MAX_MAP_ENTRIES}"
    return None


def _regex(value, arg, context):
    pattern = re.compile(arg)

    def convert(item):
        match = pattern.search(_text(item)[:MAX_REGEX_SUBJECT])
        if match is None:
            return None
        return match.group(1) if pattern.groups else match.group(0)

    return _each(value, convert)


def _check_regex(arg):
    if not isinstance(arg, str) or not arg:
        return "needs a pattern"
    if len(arg) > MAX_PATTERN_LENGTH:
        return f"pattern is {len(arg)} characters long; the maximum is {MAX_PATTERN_LENGTH}"
    if _NESTED_QUANTIFIER.search(arg):
        return "pattern has a repeated group that itself repeats (such as (a+)+), which can take forever"
    try:
        re.compile(arg)
    except re.error as exc:
        return f"pattern is not a valid regular expression ({exc})"
    return None


def _check_text(arg):
    return None if isinstance(arg, str) and arg != "" else "needs a non-empty text"


def _check_region(arg):
    from phonenumbers import SUPPORTED_REGIONS

    if isinstance(arg, str) and arg.upper() in SUPPORTED_REGIONS:
        return None
    return f"{arg!r} is not a two-letter country code (such as US, GB, DE)"


def _check_scalar(arg):
    if isinstance(arg, dict):
        return "needs a text, number, boolean or list, not an object"
    return None


TRANSFORMS = {
    transform.name: transform
    for transform in (
        Transform("trim", _trim, "none", "Remove spaces around the text."),
        Transform("lower", _case("lower"), "none", "lower case."),
        Transform("upper", _case("upper"), "none", "UPPER CASE."),
        Transform("title", _case("title"), "none", "Title Case."),
        Transform(
            "split", _split, "optional", "Text → list, split on the argument (default “,”).", _check_text
        ),
        Transform("join", _join, "optional", "List → text, joined with the argument (default “, ”)."),
        Transform(
            "phone_e164",
            _phone,
            "optional",
            "Phone number → E.164 (+15550100); the argument is a region, else the webhook's default.",
            _check_region,
        ),
        Transform("first_name_of", _first_name_of, "none", "Full name → its first word."),
        Transform("last_name_of", _last_name_of, "none", "Full name → every word after the first."),
        Transform("default", _default, "required", "The argument when there is no value.", _check_scalar),
        Transform("constant", _constant, "required", "Always the argument.", _check_scalar),
        Transform(
            "template",
            _template,
            "required",
            "Text with {value} (this row's value) and {source/path} placeholders.",
            _check_template,
        ),
        Transform("date", _date, "required", "Parse a date with a strptime format (%d/%m/%Y).", _check_date),
        Transform(
            "map", _map, "required", "Replace values by a table (exact, then case-insensitive).", _check_map
        ),
        Transform(
            "regex",
            _regex,
            "required",
            "The first match (its first group, if any); none → no value.",
            _check_regex,
        ),
    )
}
# Steps that produce a value with no source path at all.
VALUE_MAKERS = {"constant", "template", "default"}


def steps_errors(steps):
    """Messages naming each bad step ("step 2 (split): ..."); [] when the list is fine."""
    if not isinstance(steps, list):
        return ["Transforms must be a list of steps ({op, arg})."]
    if len(steps) > MAX_STEPS:
        return [f"{len(steps)} transform steps; the maximum is {MAX_STEPS}."]
    errors = []
    for number, step in enumerate(steps, start=1):
        message = _step_error(step)
        if message:
            name = step.get("op") if isinstance(step, dict) else None
            label = f"step {number} ({name})" if isinstance(name, str) and name else f"step {number}"
            errors.append(f"Transform {label}: {message}.")
    return errors


def _step_error(step):
    if not isinstance(step, dict) or not isinstance(step.get("op"), str):
        return 'is not an object with an "op"'
    unknown = set(step) - {"op", "arg"}
    if unknown:
        return f"unknown key {sorted(unknown)[0]!r} (a step has op and arg)"
    transform = TRANSFORMS.get(step["op"])
    if transform is None:
        return f"unknown operation; use one of {', '.join(TRANSFORMS)}"
    has_arg = step.get("arg") is not None
    if transform.arg == "none" and has_arg:
        return "takes no argument"
    if transform.arg == "required" and not has_arg:
        return "needs an argument"
    if has_arg and transform.check:
        return transform.check(step["arg"])
    return None


def steps_apply(value, steps, context):
    """(final value, [(step label, value after it)]). Raises TransformError naming the step."""
    trace = []
    for number, step in enumerate(steps, start=1):
        transform = TRANSFORMS[step["op"]]
        try:
            value = transform.function(value, step.get("arg"), context)
        except TransformError as exc:
            raise TransformError(f"transform step {number} ({step['op']}): {exc}") from None
        trace.append((step_text(step), value))
    return value, trace


# --- One step per line, for the admin editor -------------------------------------------------


def steps_from_text(text):
    """Steps from `op argument` lines. The argument is JSON when it reads as JSON (`0`,
    `true`, `" "`, `{"won": "Opportunity"}`), else the literal rest of the line (`split ;`)."""
    steps = []
    for line in text.splitlines():
        if not line.strip():
            continue
        op, _space, rest = line.lstrip().partition(" ")
        step = {"op": op}
        if rest.strip():
            try:
                step["arg"] = json.loads(rest)
            except ValueError:
                step["arg"] = rest.rstrip("\r")
        steps.append(step)
    return steps


def step_text(step):
    arg = step.get("arg")
    if arg is None:
        return step["op"]
    if isinstance(arg, str) and arg == arg.strip() and arg and not _reads_as_json(arg):
        return f"{step['op']} {arg}"
    return f"{step['op']} {json.dumps(arg, ensure_ascii=False)}"


def steps_to_text(steps):
    return "\n".join(step_text(step) for step in steps or [])


def _reads_as_json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
