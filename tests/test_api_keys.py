import datetime
import importlib

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from rest_framework import exceptions
from rest_framework.test import APIRequestFactory

from leadengine.authentication import ApiKeyAuthentication
from leadengine.models import ApiKey, all_scopes
from leadengine.services import api_key_create, api_key_revoke
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db


def authenticate(header):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=header)
    return ApiKeyAuthentication().authenticate(request)


def test_only_a_hash_of_the_key_is_stored():
    api_key, full_key = api_key_create(workspace=WorkspaceFactory(), name="Zapier")

    columns = [
        column.name
        for column in connection.introspection.get_table_description(
            connection.cursor(), ApiKey._meta.db_table
        )
    ]
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert full_key.startswith(api_key.prefix + "_") and api_key.prefix.startswith("le_live_")
    assert len(full_key) > 40
    assert full_key not in [str(value) for value in row.values()]
    assert row["key_hash"] == ApiKey.hash_key(full_key)
    assert "key" not in columns


def test_bearer_key_authenticates_as_the_workspace():
    workspace = WorkspaceFactory()
    api_key, full_key = api_key_create(workspace=workspace, name="Zapier")

    user, auth = authenticate(f"Bearer {full_key}")

    assert auth == api_key and auth.workspace_id == workspace.pk
    assert user.is_authenticated and not user.is_staff and user.workspace_id == workspace.pk


@pytest.mark.parametrize(
    "mangle",
    [
        lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"),
        lambda k: k + "x",
        lambda k: k.replace("le_live_", "le_test_"),
        lambda k: "le_live_x",
    ],
)
def test_wrong_keys_fail(mangle):
    _api_key, full_key = api_key_create(workspace=WorkspaceFactory(), name="Zapier")
    with pytest.raises(exceptions.AuthenticationFailed):
        authenticate(f"Bearer {mangle(full_key)}")


def test_no_header_is_no_authentication_and_the_challenge_is_bearer():
    assert authenticate("") is None
    assert ApiKeyAuthentication().authenticate_header(None).startswith("Bearer")


def test_revoked_key_fails_at_once():
    api_key, full_key = api_key_create(workspace=WorkspaceFactory(), name="Zapier")
    api_key_revoke(api_key=api_key)
    with pytest.raises(exceptions.AuthenticationFailed, match="revoked"):
        authenticate(f"Bearer {full_key}")


def test_last_used_at_is_recorded_at_most_once_a_minute():
    api_key, full_key = api_key_create(workspace=WorkspaceFactory(), name="Zapier")
    start = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
    with time_machine.travel(start, tick=False):
        authenticate(f"Bearer {full_key}")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start

    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        authenticate(f"Bearer {full_key}")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start

    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        authenticate(f"Bearer {full_key}")
    api_key.refresh_from_db()
    assert api_key.last_used_at == start + datetime.timedelta(seconds=61)


def test_create_api_key_command_prints_the_key_once(capsys):
    workspace = WorkspaceFactory(slug="acme")

    call_command("create_api_key", "acme", "--name", "CLI")

    printed = capsys.readouterr().out.strip()
    api_key = ApiKey.objects.get(workspace=workspace)
    assert api_key.name == "CLI" and api_key.matches(printed)


def test_an_api_key_user_sees_only_its_workspace():
    from leadengine.models import Workspace

    workspace = WorkspaceFactory()
    WorkspaceFactory()
    _api_key, full_key = api_key_create(workspace=workspace, name="API")
    user, _auth = authenticate(f"Bearer {full_key}")
    assert list(Workspace.objects.for_user(user)) == [workspace]


def test_create_api_key_command_without_scope_gives_full_access_as_before(capsys):
    WorkspaceFactory(slug="acme")

    call_command("create_api_key", "acme")

    assert ApiKey.objects.get().scopes == ["webhooks:receive", "api:read", "api:write", "api:manage"]


def test_create_api_key_command_with_scopes_gives_only_those(capsys):
    WorkspaceFactory(slug="acme")

    call_command("create_api_key", "acme", "--scope", "api:read", "--scope", "webhooks:receive")

    assert ApiKey.objects.get().scopes == ["webhooks:receive", "api:read"]


def test_keys_that_existed_before_scopes_keep_full_access():
    migration = importlib.import_module("leadengine.migrations.0004_apikey_scopes")
    old_key, _full_key = api_key_create(workspace=WorkspaceFactory(), name="Old", scopes=["webhooks:receive"])

    migration.grant_existing_keys_full_access(django_apps, schema_editor=None)

    old_key.refresh_from_db()
    assert old_key.scopes == all_scopes()
    assert all_scopes() == migration.FULL_ACCESS  # the frozen list still names every scope


def test_a_key_is_receive_only_unless_given_more_scopes():
    api_key, _full_key = api_key_create(workspace=WorkspaceFactory(), name="Zapier")

    assert api_key.scopes == ["webhooks:receive"]


@pytest.mark.parametrize("scopes", [[], ["api:everything"], "api:read"])
def test_a_key_with_no_or_unknown_scopes_is_refused(scopes):
    with pytest.raises(ValidationError):
        api_key_create(workspace=WorkspaceFactory(), name="Bad", scopes=scopes)
