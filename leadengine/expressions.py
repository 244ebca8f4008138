"""Query expressions the ORM lacks, portable to SQLite and PostgreSQL."""

from django.db.models import F, Func, JSONField, Subquery


class _JSONArray(Func):
    """JSON_ARRAY / JSONB_BUILD_ARRAY of columns. Django's `JSONArray` probes the connection's
    JSON support on first use, one more query a fresh connection would pay on this path."""

    function = "JSON_ARRAY"
    output_field = JSONField()

    def as_sqlite(self, compiler, connection, **extra_context):
        # A JSON column is text to SQLite: JSON() keeps it a JSON value inside the array, as
        # PostgreSQL's jsonb column is.
        embedded = self.copy()
        embedded.set_source_expressions(
            [
                Func(expression, function="JSON", output_field=JSONField())
                if isinstance(expression.output_field, JSONField)
                else expression
                for expression in self.get_source_expressions()
            ]
        )
        return embedded.as_sql(compiler, connection, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function="JSONB_BUILD_ARRAY", **extra_context)


class _JSONArrayAgg(Func):
    """JSON_GROUP_ARRAY / JSONB_AGG, '[]' over no rows. Not declared an aggregate on purpose:
    inside `JSONRows` it aggregates the whole subquery (no GROUP BY, exactly one row).
    `ordered`: in the value's order on PostgreSQL (its collation); SQLite 3.40 has no ORDER
    BY in aggregates, see `_ValuesSortedOnSQLite`."""

    output_field = JSONField()

    def __init__(self, expression, ordered=False):
        super().__init__(expression)
        self.ordered = ordered

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="COALESCE(JSON_GROUP_ARRAY(%(expressions)s), '[]')")

    def as_postgresql(self, compiler, connection, **extra_context):
        order = " ORDER BY %(expressions)s" if self.ordered else ""
        sql, params = self.as_sql(
            compiler, connection, template=f"COALESCE(JSONB_AGG(%(expressions)s{order}), '[]'::jsonb)"
        )
        return sql, (*params, *params) if self.ordered else params


class _ValuesSortedOnSQLite(JSONField):
    """SQLite's default (BINARY) collation orders text by code point, as Python's sort does:
    sorting here gives what `ORDER BY` gives there."""

    def from_db_value(self, value, expression, connection):
        values = super().from_db_value(value, expression, connection)
        return sorted(values) if connection.vendor == "sqlite" else values


class JSONRows(Subquery):
    """The rows of a (correlated) queryset as ONE JSON value: a list of `[field, …]` lists, or
    of plain values when one field is named; `[]` when there is no row. Lets one query load a
    row with its related rows (a lead with its campaigns and thread) instead of one query per
    relation. Rows come in no defined order (sort in Python), except one field's values with
    `ordered=True`: in the database's `ORDER BY` order of that field."""

    def __init__(self, queryset, *fields, ordered=False):
        if ordered and len(fields) != 1:
            raise ValueError("ordered=True takes exactly one field.")
        row = _JSONArray(*fields) if len(fields) > 1 else F(fields[0])
        super().__init__(
            queryset.order_by().values(rows=_JSONArrayAgg(row, ordered=ordered)),
            output_field=_ValuesSortedOnSQLite() if ordered else JSONField(),
        )
