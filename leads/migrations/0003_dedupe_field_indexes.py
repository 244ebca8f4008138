"""An index per dedupe field besides the business email (which has its unique constraint):
without one, every post deduped on a personal email, a LinkedIn URL or a mobile phone read all
the leads of its workspace. Built CONCURRENTLY on PostgreSQL, so a big leads table keeps taking
writes while it is indexed; a plain CREATE INDEX elsewhere (SQLite)."""

from django.db import migrations, models

from leadengine.migration_operations import AddIndexConcurrentlyOnPostgreSQL


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("leadengine", "0004_apikey_scopes"),
        ("leads", "0002_custom_field_key_validator"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgreSQL(
            model_name="lead",
            index=models.Index(
                condition=~models.Q(**{field: ""}), fields=["workspace", field], name=f"lead_dedupe_{field}"
            ),
        )
        for field in ("personal_email", "person_linkedin", "mobile_phone")
    ]
