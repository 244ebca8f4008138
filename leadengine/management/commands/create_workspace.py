from django.core.management.base import BaseCommand, CommandError

from leadengine.models import Workspace
from leadengine.services import workspace_create


class Command(BaseCommand):
    help = "Create a workspace."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default="")

    def handle(self, *args, slug, name, **options):
        if Workspace.objects.filter(slug=slug).exists():
            raise CommandError(f"A workspace with slug “{slug}” already exists.")
        workspace = workspace_create(slug=slug, name=name)
        self.stdout.write(f"Created workspace “{workspace.name}” ({workspace.slug}).")
