"""Index operations for big tables: CONCURRENTLY on PostgreSQL, so the table keeps taking
writes while an index is built or dropped (a plain CREATE INDEX blocks every INSERT and
UPDATE of the table until it is done: on the deliveries table, every status change with a
webhook and every send). Elsewhere (SQLite) the plain operation. A migration using them sets
`atomic = False`: CONCURRENTLY cannot run inside a transaction."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations


class _ConcurrentlyOnPostgreSQL:
    plain = None  # the operation run on other databases

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexConcurrentlyOnPostgreSQL(_ConcurrentlyOnPostgreSQL, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndexConcurrentlyOnPostgreSQL(_ConcurrentlyOnPostgreSQL, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class ForeignKeyIndexDropConcurrentlyOnPostgreSQL(migrations.AlterField):
    """`AlterField` to `db_index=False` on a foreign key. On PostgreSQL only its index is
    dropped (and made again backwards), CONCURRENTLY: Django's `AlterField` also drops the
    foreign key constraint and adds it back, and adding it checks every row of the table
    while writes to it wait. Elsewhere the plain `AlterField`."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        table, column, name = self._index(app_label, schema_editor, from_state)
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(name)}")

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        table, column, name = self._index(app_label, schema_editor, to_state)
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(name)} ON {quote(table)} ({quote(column)})"
        )

    def _index(self, app_label, schema_editor, state):
        """The table, column and index name Django gives a foreign key's own index."""
        model = state.apps.get_model(app_label, self.model_name)
        table, column = model._meta.db_table, model._meta.get_field(self.name).column
        return table, column, schema_editor._create_index_name(table, [column], suffix="")
