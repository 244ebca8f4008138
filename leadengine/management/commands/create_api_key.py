from django.core.management.base import BaseCommand, CommandError

from leadengine.models import ApiKeyScope, Workspace, all_scopes
from leadengine.services import api_key_create


class Command(BaseCommand):
    help = (
        "Create an API key for a workspace and print it (it is shown only this once). "
        "Without --scope the key has every scope, as keys had before scopes existed, so "
        "existing scripts keep working."
    )

    def add_arguments(self, parser):
        parser.add_argument("workspace_slug")
        parser.add_argument("--name", default="Command line")
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ApiKeyScope.values,
            help="A scope of the key; repeat for several (e.g. --scope webhooks:receive). Default: all.",
        )

    def handle(self, *args, workspace_slug, name, scopes=None, **options):
        workspace = Workspace.objects.filter(slug=workspace_slug).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug “{workspace_slug}”.")
        api_key, full_key = api_key_create(workspace=workspace, name=name, scopes=scopes or all_scopes())
        self.stderr.write(
            f"Created API key “{api_key.name}” for {workspace.slug} with scopes {', '.join(api_key.scopes)}. "
            "Copy it now: it is not shown again."
        )
        self.stdout.write(full_key)
