import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from webhooks.outbound.models import OutboundWebhook


@pytest.mark.django_db(transaction=True)
def test_migration_encrypts_secrets_stored_in_plain_text_before_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("outbound", "0001_initial")])
    old_apps = executor.loader.project_state([("outbound", "0001_initial")]).apps
    workspace = old_apps.get_model("leadengine", "Workspace").objects.create(name="Old", slug="old")
    old_apps.get_model("outbound", "OutboundWebhook").objects.create(
        workspace=workspace, name="Legacy", url="https://hooks.example.com/in", secret="whsec_plain"
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM outbound_outboundwebhook")
        [(raw,)] = cursor.fetchall()
    assert "whsec_plain" not in raw
    assert OutboundWebhook.objects.get().secret == "whsec_plain"
