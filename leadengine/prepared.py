"""Queries on a hot path, built and compiled by the ORM once per process.

Building a queryset and compiling it to SQL costs more Python than the database spends
answering a small indexed query (profiled on a status change with matching webhooks: ~60 %
of its time was ORM work, ~25 % waiting for PostgreSQL). A `PreparedQuery` keeps the SQL, the
column converters and the position of its one varying parameter (`ids`, a list of ids sent
as ONE parameter, so the SQL text never depends on how many there are) and only executes.
Only for queries whose text depends on nothing but the model: the parameters are the lists.
Those whose planning costs more than their run are also prepared on the PostgreSQL server
(`server_prepared`), so that the database plans them once per connection too.
"""

import functools
import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connections
from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.models import BooleanField, F, Field, Func
from psycopg import _queries as psycopg_queries
from psycopg.pq import Format


@functools.cache
def column_names(model):
    """A model's stored attributes in field order: what a `values_list` selects so that
    `instance_from_row` can build the instance from the row (or a slice of it)."""
    return [field.attname for field in model._meta.concrete_fields]


def instance_from_row(model, row, using="default"):
    """The model instance of a row holding `column_names(model)`'s values, as loaded."""
    return model.from_db(using, column_names(model), row)


class _Param:
    """Marks a varying parameter (a list) in the compiled query: `PreparedQuery.param(n)`."""

    def __init__(self, index):
        self.index = index


class IdsIn(Func):
    """`field IN (ids)` with the ids (or any values) as ONE parameter: `= ANY(array)` on
    PostgreSQL, `IN (SELECT value FROM json_each(text))` on SQLite. `ids` is a list, or a
    `PreparedQuery.param(n)`."""

    output_field = BooleanField()

    def __init__(self, field, ids):
        super().__init__(F(field))
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        value = self.ids if isinstance(self.ids, _Param) else list_param(connection, self.ids)
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", (*params, value)
        return f"{column} IN (SELECT value FROM json_each(%s))", (*params, value)


def list_param(connection, values):
    """A list as one parameter: an array for PostgreSQL, JSON text for SQLite's json_each."""
    return list(values) if connection.vendor == "postgresql" else json.dumps(list(values))


def _column_converters(compiler):
    """The converters of a compiled `values_list`'s columns (after `as_sql` or `pre_sql_setup`)."""
    return compiler.get_converters([select[0] for select in compiler.select[: compiler.col_count]])


def _converted(compiler, converters, rows):
    """Fetched rows as `values_list` gives them: lists of converted values."""
    return list(compiler.apply_converters(rows, converters)) if converters else [list(row) for row in rows]


class LoadedValues:
    """Rows that hand-written SQL fetched, converted as `build()`'s `values_list` would convert
    them (JSON parsed, encrypted fields decrypted…): for a statement the ORM cannot write
    (a data-modifying CTE) whose columns are those of a queryset it can."""

    def __init__(self, build):
        self._build = build
        self._converters = {}

    def convert(self, rows, using="default"):
        if using not in self._converters:
            compiler = self._build().query.get_compiler(using)
            compiler.pre_sql_setup()
            self._converters[using] = (compiler, _column_converters(compiler))
        return _converted(*self._converters[using], rows)


class PreparedQuery:
    """`build()` returns a `values_list` queryset filtered with `IdsIn(…, PreparedQuery.param(0))`
    (and `param(1)`, …); `rows(ids, …)` runs it with those lists in their places: lists of
    converted values, as `values_list` gives."""

    _PARAMS = tuple(_Param(index) for index in range(4))
    IDS = _PARAMS[0]

    @classmethod
    def param(cls, index):
        return cls._PARAMS[index]

    def __init__(self, build, *, server_prepared=False):
        self._build = build
        self._compiled = {}
        self._server_prepared = server_prepared

    def _compile(self, using):
        queryset = self._build()
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        places = [
            (position, param.index) for position, param in enumerate(params) if isinstance(param, _Param)
        ]
        compiled = (sql, list(params), places, compiler, _column_converters(compiler))
        self._compiled[using] = compiled
        return compiled

    def rows(self, *lists, using="default"):
        with connections[using].cursor() as cursor:
            self._execute(cursor, lists)
            return self._fetch(cursor)

    def _execute(self, cursor, lists):
        sql, params, places, _compiler, _converters = self._compiled.get(cursor.db.alias) or self._compile(
            cursor.db.alias
        )
        params = params.copy()
        for position, index in places:
            params[position] = list_param(cursor.db, lists[index])
        if self._server_prepared:
            server_prepared(cursor)
        cursor.execute(sql, params)

    def _fetch(self, cursor):
        _sql, _params, _places, compiler, converters = self._compiled[cursor.db.alias]
        return _converted(compiler, converters, cursor.fetchall())


def rows_pipelined(*calls, using="default"):
    """`query.rows(*lists)` of each `(query, lists)` call, in order, sent to PostgreSQL in ONE
    round trip (psycopg's pipeline mode) when they do not depend on each other; one after
    the other elsewhere. A status change with webhooks reads its webhooks and its snapshot
    so: 1.0–1.1 ms for both against 1.4–1.5 ms one after the other (bench database)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return [query.rows(*lists, using=using) for query, lists in calls]
    connection.ensure_connection()
    cursors = [connection.cursor() for _call in calls]
    try:
        with connection.wrap_database_errors, connection.connection.pipeline():
            for (query, lists), cursor in zip(calls, cursors, strict=True):
                query._execute(cursor, lists)
            return [query._fetch(cursor) for (query, _lists), cursor in zip(calls, cursors, strict=True)]
    finally:
        for cursor in cursors:
            cursor.close()


# Fixed statement texts parsed by this process (a bounded set: one per statement shape).
_statement_parse = functools.lru_cache(maxsize=256)(psycopg_queries._query2pg_nocache)


class _ParsedOnceQuery(psycopg_queries.PostgresQuery):
    """psycopg parses a statement's placeholders on every execution when its text is longer
    than 4,096 characters or it has more than 50 parameters: it keeps ORM texts of varying
    shape out of its cache. A prepared statement's text is fixed, and two of the longest run
    on hot paths: the status change's snapshot (4.4 KB, once per change with webhooks) and
    the claim (4.7 KB, once per wave of requests). Parsed once per process here. Relies on
    psycopg's internals of the pinned version: `tests/outbound/test_prepared_statements.py`
    fails if they change."""

    def convert(self, query, vars):
        if vars is None or not isinstance(query, (str, bytes)):
            return super().convert(query, vars)
        query = self._ensure_bytes(query)
        self.query, self._want_formats, self._order, self._parts = _statement_parse(query, self._tx.encoding)
        self.dump(vars)


class _PreparingCursor(ServerBindingCursor):
    """A psycopg cursor that binds parameters on the server and prepares what it runs."""

    _query_cls = _ParsedOnceQuery

    def execute(self, query, params=None, *, prepare=True, binary=None):
        super().execute(query, params, prepare=prepare, binary=binary)
        if self._query is None:  # a prepared run keeps no query text: Django's log reads this
            self._query = _StatementText(query.encode() if isinstance(query, str) else query)
        return self


@dataclass
class _StatementText:
    """What Django's query log reads of a psycopg cursor (`_query.query`): the statement's
    text with its placeholders."""

    query: bytes


def server_prepared(cursor):
    """Make a Django cursor's statements prepared on the PostgreSQL server; a no-op elsewhere
    or with `DATABASE_PREPARED_STATEMENTS` off.

    For statements run often whose planning costs more than their run: the status change's
    snapshot (four correlated subqueries) took 0.77 ms to plan and 0.17 ms to run (EXPLAIN
    ANALYZE on the bench database); the claim's plan cost PostgreSQL about as much CPU as
    the rest of a delivery. Each is planned once per connection, with one generic plan
    (`plan_cache_mode`, settings). Django's cursors bind parameters client-side and psycopg
    never prepares those, so the wrapper's cursor is swapped for a server-binding one
    (psycopg keeps its statements per connection, by text and parameter types; PostgreSQL
    re-plans one after a schema change). Only for a statement of a fixed text: each new text
    is one more prepared statement. Query logging, execute wrappers and error translation
    stay Django's."""
    connection = cursor.db
    if connection.vendor != "postgresql" or not settings.DATABASE_PREPARED_STATEMENTS:
        return
    client_side = cursor.cursor
    cursor.cursor = _PreparingCursor(client_side.connection)
    client_side.close()
    # As Django's `create_cursor`: the connection's time zone, when the loader's differs.
    tzloader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != tzloader.timezone:
        register_tzloader(connection.timezone, cursor.cursor)


@functools.cache
def _insert_statement(model, vendor, unless_taken=None):
    """`INSERT INTO … (every column but the id) VALUES (%s, …) RETURNING id`, built once; with
    `ON CONFLICT <unless_taken> DO NOTHING` when given."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    pk = quote(model._meta.pk.column)
    on_conflict = f" ON CONFLICT {unless_taken} DO NOTHING" if unless_taken else ""
    return (
        fields,
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders}){on_conflict}"
        f" RETURNING {pk}",
    )


def instance_insert(instance, using="default", unless_taken=None):
    """INSERT one new model instance with a statement built once per process: what
    `Model.objects.create()` writes (values prepared by the fields, `auto_now_add` set), without
    its per-call query compilation, and without model signals (none is connected in this
    project; `bulk_create` skips them too). Sets the instance's id; returns the instance.

    `unless_taken`: a conflict target (`(columns) WHERE …` of a unique index); a row that would
    conflict there is not written and None is returned."""
    connection = connections[using]
    fields, statement = _insert_statement(type(instance), connection.vendor, unless_taken)
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        server_prepared(cursor)
        cursor.execute(statement, values)
        row = cursor.fetchone()
    if row is None:
        return None
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = using
    return instance


_NOT_SET = object()  # an attribute a (deferred) instance doesn't hold: read through its field
_TEXT_FIELDS = ("CharField", "TextField", "EmailField", "URLField", "SlugField")
_INTEGER_FIELDS = (
    "IntegerField",
    "BigIntegerField",
    "SmallIntegerField",
    "PositiveIntegerField",
    "PositiveBigIntegerField",
    "PositiveSmallIntegerField",
    "ForeignKey",
    "BigAutoField",
)


def _as_is_type(field):
    """The one Python type whose values a field writes unchanged (str for text, int for
    integers and foreign keys), or None when every value goes through the field."""
    if type(field).pre_save is not Field.pre_save:
        return None  # auto_now and the like compute their value
    kind = field.get_internal_type()
    return str if kind in _TEXT_FIELDS else int if kind in _INTEGER_FIELDS else None


@functools.cache
def _rows_insert_statement(model, update_fields):
    """`INSERT … SELECT … FROM json_to_recordset(%s)` for every column but the id (with the
    id too when rewriting stored rows: ON CONFLICT (id) DO UPDATE the `update_fields`)."""
    connection = connections["default"]
    quote = connection.ops.quote_name
    rewriting = update_fields is not None
    fields = [field for field in model._meta.concrete_fields if rewriting or not field.primary_key]
    columns = ", ".join(quote(field.column) for field in fields)
    types = [
        field.rel_db_type(connection) if field.primary_key else field.db_type(connection) for field in fields
    ]
    record = ", ".join(
        f"{quote(field.column)} {db_type}" for field, db_type in zip(fields, types, strict=True)
    )
    pk = quote(model._meta.pk.column)
    statement = (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns})"
        f" SELECT {columns} FROM json_to_recordset(%s::json) AS rows({record})"
    )
    if rewriting:
        updated = [quote(model._meta.get_field(name).column) for name in update_fields]
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in updated)
        statement += f" ON CONFLICT ({pk}) DO UPDATE SET {updates}"
    plan = [(field.column, field.attname, _as_is_type(field), field) for field in fields]
    return plan, statement + f" RETURNING {pk}"


def _json_value(field, instance, connection):
    """A column's value as JSON for json_to_recordset, through the field: JSON columns as
    their document, datetimes in ISO 8601, anything else as the field prepares it."""
    value = field.pre_save(instance, True)
    if value is None:
        return None
    if field.get_internal_type() == "JSONField":
        return value if field.encoder is None else json.loads(json.dumps(value, cls=field.encoder))
    value = field.get_db_prep_save(value, connection)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value.isoformat() if hasattr(value, "isoformat") else value


def json_rows(instances, fields, using="default"):
    """Instances' values of `fields` as ONE JSON parameter for `json_to_recordset` (keyed by
    column), each value as the field prepares it."""
    connection = connections[using]
    return json.dumps(
        [
            {field.column: _json_value(field, instance, connection) for field in fields}
            for instance in instances
        ],
        separators=(",", ":"),
    )


def instances_insert(instances, *, update_fields=None, using="default"):
    """Write model instances in ONE statement whose text never depends on their number: the
    rows travel as one JSON parameter (PostgreSQL). New instances get their ids; with
    `update_fields`, stored instances (ids set) are rewritten (ON CONFLICT (id) DO UPDATE).
    What `bulk_create` writes (`auto_now` fields set), without its per-value preparation
    and psycopg's quoting of an array literal per column. Elsewhere (SQLite), `bulk_create`
    itself, through the model's manager (and so its checks)."""
    connection = connections[using]
    model = type(instances[0])
    if connection.vendor != "postgresql":
        if update_fields is None:
            return model._default_manager.db_manager(using).bulk_create(instances)
        return model._default_manager.db_manager(using).bulk_create(
            instances, update_conflicts=True, unique_fields=[model._meta.pk.name], update_fields=update_fields
        )
    statement, rows = instances_insert_statement(instances, update_fields=update_fields, using=using)
    with connection.cursor() as cursor:
        cursor.execute(statement, [rows])
        ids = [row[0] for row in cursor.fetchall()]
    for instance, pk in zip(instances, ids, strict=True):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = using
    return instances


def instances_insert_statement(instances, *, update_fields=None, using="default"):
    """PostgreSQL: `instances_insert`'s statement (`… RETURNING id`, one `%s`) and its one
    parameter, to run as part of a larger statement (a data-modifying CTE)."""
    connection = connections[using]
    model = type(instances[0])
    plan, statement = _rows_insert_statement(model, None if update_fields is None else tuple(update_fields))
    rows = []
    for instance in instances:
        values, row = instance.__dict__, {}
        for column, attname, as_is, field in plan:
            value = values.get(attname, _NOT_SET)
            # Plain strings and integers as they are: preparing 65 columns × 1,000 rows one
            # value at a time was ~40 % of a batch (profiled).
            if as_is is not None and (value is None or type(value) is as_is):
                row[column] = value
            else:
                row[column] = _json_value(field, instance, connection)
        rows.append(row)
    return statement, json.dumps(rows, separators=(",", ":"))
