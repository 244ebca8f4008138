"""Queries on a hot path, built and compiled by the ORM once per process.

Building a queryset and compiling it to SQL costs more Python than the database spends
answering a small indexed query (profiled on a status change with matching webhooks: ~60 %
of its time was ORM work, ~25 % waiting for PostgreSQL). A `PreparedQuery` keeps the SQL, the
column converters and the position of its one varying parameter (`ids`, a list of ids sent
as ONE parameter, so the SQL text never depends on how many there are) and only executes.
"""

import json

from django.db import connections
from django.db.models import BooleanField, F, Func


class _Ids:
    """Marks the varying parameter in the compiled query."""


class IdsIn(Func):
    """`field IN (ids)` with the ids as ONE parameter: `= ANY(array)` on PostgreSQL,
    `IN (SELECT value FROM json_each(text))` on SQLite. `ids` is a list, or `PreparedQuery.IDS`."""

    output_field = BooleanField()

    def __init__(self, field, ids):
        super().__init__(F(field))
        self.ids = ids

    def as_sql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s)", (
                *params,
                self.ids if self.ids is PreparedQuery.IDS else list(self.ids),
            )
        value = self.ids if self.ids is PreparedQuery.IDS else json.dumps(list(self.ids))
        return f"{column} IN (SELECT value FROM json_each(%s))", (*params, value)


class PreparedQuery:
    """`build()` returns a `values_list` queryset filtered with `IdsIn(…, PreparedQuery.IDS)`;
    `rows(ids)` runs it with those ids: lists of converted values, as `values_list` gives."""

    IDS = _Ids()

    def __init__(self, build):
        self._build = build
        self._compiled = {}

    def _compile(self, using):
        queryset = self._build()
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        fields = [select[0] for select in compiler.select[: compiler.col_count]]
        compiled = (sql, list(params), params.index(self.IDS), compiler, compiler.get_converters(fields))
        self._compiled[using] = compiled
        return compiled

    def rows(self, ids, using="default"):
        connection = connections[using]
        sql, params, position, compiler, converters = self._compiled.get(using) or self._compile(using)
        params = params.copy()
        params[position] = list(ids) if connection.vendor == "postgresql" else json.dumps(list(ids))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return (
            list(compiler.apply_converters(rows, converters)) if converters else [list(row) for row in rows]
        )
