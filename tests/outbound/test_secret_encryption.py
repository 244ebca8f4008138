import pytest
from cryptography.fernet import Fernet
from django.db import connection

from leadengine import encryption
from tests.outbound.conftest import make_webhook
from webhooks.outbound.models import OutboundWebhook
from webhooks.outbound.services import webhook_rotate_secret

pytestmark = pytest.mark.django_db


def stored_column(webhook, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM outbound_outboundwebhook WHERE id = %s", [webhook.pk])
        return cursor.fetchone()[0]


@pytest.fixture
def fresh_keys(settings):
    """Each test gets its own key list; the cached cipher is rebuilt around it."""
    encryption._fernet.cache_clear()
    yield settings
    encryption._fernet.cache_clear()


def test_signing_secret_is_encrypted_at_rest_and_read_back_in_clear(workspace, fresh_keys):
    webhook = make_webhook(workspace, "https://hooks.example.com/in")

    raw = stored_column(webhook, "secret")

    assert webhook.secret.startswith("whsec_")
    assert webhook.secret not in raw
    assert OutboundWebhook.objects.get(pk=webhook.pk).secret == webhook.secret


def test_previous_secret_is_encrypted_too(workspace, fresh_keys):
    webhook = make_webhook(workspace, "https://hooks.example.com/in")
    old = webhook.secret
    webhook_rotate_secret(webhook=webhook)

    assert old not in stored_column(webhook, "previous_secret")
    assert OutboundWebhook.objects.get(pk=webhook.pk).previous_secret == old


def test_encryption_key_can_be_rotated_without_losing_secrets(workspace, fresh_keys):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    fresh_keys.FIELD_ENCRYPTION_KEYS = [old_key]
    webhook = make_webhook(workspace, "https://hooks.example.com/in")
    encryption._fernet.cache_clear()

    fresh_keys.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert OutboundWebhook.objects.get(pk=webhook.pk).secret == webhook.secret
