from django.core.management.base import BaseCommand

from leads.demo import seed_demo


class Command(BaseCommand):
    help = "Create the demo workspace, its operator and ~50 leads (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--leads", type=int, default=50)

    def handle(self, *args, leads, **options):
        workspace, operator, password = seed_demo(lead_count=leads)
        self.stdout.write(f"Demo workspace “{workspace.name}” has {workspace.leads.count()} leads.")
        if password:
            self.stdout.write(self.style.SUCCESS(f"Operator login: {operator.username} / {password}"))
            self.stdout.write(
                "(The password is printed this once; `manage.py changepassword operator` resets it.)"
            )
        else:
            self.stdout.write(f"Operator login: {operator.username} (password printed at the first seed)")
