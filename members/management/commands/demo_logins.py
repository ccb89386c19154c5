"""Print the demo log-ins: role, username, password and where to go."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from members.demo import DEMO_LOGINS, DEMO_PASSWORD
from members.models import User


class Command(BaseCommand):
    help = "Print the demo log-ins created by seed_demo."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, base_url, **options):
        if settings.PRODUCTION:
            raise CommandError("there are no demo log-ins in production")
        existing = set(
            User.objects.filter(
                username__in=[login.username for login in DEMO_LOGINS]
            ).values_list("username", flat=True)
        )
        if not existing:
            self.stdout.write("No demo log-ins yet: run `manage.py seed_demo`.")
            return

        base = base_url.rstrip("/")
        rows = [("role", "username", "password", "go to")] + [
            (str(login.role), login.username, DEMO_PASSWORD, base + login.go_to)
            for login in DEMO_LOGINS
            if login.username in existing
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        self.stdout.write("Demo log-ins (demo data only, never in production):")
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.stdout.write(("  " + "  ".join(cells)).rstrip())
