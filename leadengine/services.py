from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from .models import ApiKey, Membership, Workspace, ordered_scopes, validate_scopes


@transaction.atomic
def workspace_create(*, slug, name="", owner=None):
    workspace = Workspace.objects.create(slug=slug, name=name or slug.replace("-", " ").title())
    if owner is not None:
        Membership.objects.create(workspace=workspace, user=owner, role=Membership.Role.OWNER)
    return workspace


def operator_ensure(*, username, workspace, password=None):
    """Get or create a staff operator who belongs to `workspace`; returns (user, created)."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"is_staff": True, "email": f"{username}@example.com"}
    )
    if created:
        user.set_password(password)
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(workspace=workspace, user=user)
    return user, created


def api_key_create(*, workspace, name, scopes=None, created_by=None):
    """Create a key; returns (api_key, full_key). The full key exists only in this return value.

    Without `scopes` the key is receive-only (the model's default): a caller wanting more says so.
    """
    api_key = ApiKey(workspace=workspace, name=name, created_by=created_by)
    if scopes is not None:
        validate_scopes(scopes)
        api_key.scopes = ordered_scopes(scopes)
    full_key = api_key.set_new_key()  # the one place a key is generated and hashed
    api_key.save()
    return api_key, full_key


def api_key_revoke(*, api_key):
    """Revoke at once (idempotent): the next request with the key is a 401."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=api_key.revoked_at)
    return api_key
