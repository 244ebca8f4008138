from django.contrib.auth import get_user_model
from django.db import transaction

from .models import Membership, Workspace


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
