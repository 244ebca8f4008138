from django.core.management.base import BaseCommand, CommandError

from leadengine.models import Workspace
from leadengine.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a workspace and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("workspace_slug")
        parser.add_argument("--name", default="Command line")

    def handle(self, *args, workspace_slug, name, **options):
        workspace = Workspace.objects.filter(slug=workspace_slug).first()
        if workspace is None:
            raise CommandError(f"No workspace with slug “{workspace_slug}”.")
        api_key, full_key = api_key_create(workspace=workspace, name=name)
        self.stderr.write(
            f"Created API key “{api_key.name}” for {workspace.slug}. Copy it now: it is not shown again."
        )
        self.stdout.write(full_key)
