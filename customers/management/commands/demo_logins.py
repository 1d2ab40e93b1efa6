"""python manage.py demo_logins — the demo logins in a box (printed by `make run`)."""

from django.core.management.base import BaseCommand

from brokercrm.accounts.models import User
from customers import demo


class Command(BaseCommand):
    help = "Print the demo owner and office staff logins and the URL (demo passwords only)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the server listens")

    def handle(self, *args, url, **options):
        existing = set(
            User.objects.filter(username__in=[u for u, *_ in demo.DEMO_USERS]).values_list(
                "username", flat=True
            )
        )
        lines = [f"brokercrm demo — open {url}", ""]
        for username, first, last, group, _share in demo.DEMO_USERS:
            if username in existing:
                lines.append(f"{group:<12} {username:<13} / {demo.DEMO_PASSWORD}   ({first} {last})")
        if len(lines) == 2:
            lines.append("No demo users yet: run `python manage.py seed_demo` first.")
        lines += ["", "Demo passwords only — never use them for real data."]
        width = max(len(line) for line in lines)
        border = "+" + "-" * (width + 2) + "+"
        self.stdout.write("\n".join([border, *[f"| {line:<{width}} |" for line in lines], border]))
