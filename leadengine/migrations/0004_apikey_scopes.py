"""API key scopes. New keys default to receive-only; every key that exists when this runs
was created with full power and keeps it, so no integration breaks on deploy."""

from django.db import migrations, models

import leadengine.models

# Frozen here rather than read from ApiKeyScope: this migration means the four scopes that
# existed when it was written, whatever is added later.
FULL_ACCESS = ["webhooks:receive", "api:read", "api:write", "api:manage"]


def grant_existing_keys_full_access(apps, schema_editor):
    apps.get_model("leadengine", "ApiKey").objects.update(scopes=FULL_ACCESS)


class Migration(migrations.Migration):
    dependencies = [
        ("leadengine", "0003_idempotency_records"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scopes",
            field=models.JSONField(
                default=leadengine.models.receive_only_scopes,
                help_text="What the key may do (ApiKeyScope). Keys made before scopes existed hold all of them.",
                validators=[leadengine.models.validate_scopes],
            ),
        ),
        migrations.RunPython(grant_existing_keys_full_access, migrations.RunPython.noop, elidable=True),
    ]
