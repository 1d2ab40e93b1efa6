"""Delete the data of erased customers whose retention has passed (see customers/privacy.py).

    python manage.py purge_retention [--as-of 2036-01-01]

Meant to run nightly; running it again the same day deletes nothing more."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from customers.privacy import retention_purge


class Command(BaseCommand):
    help = "Delete restricted customer data (after an erasure request) whose retention period has passed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--as-of", help="The day to judge the retention periods by (YYYY-MM-DD); default today."
        )

    def handle(self, *args, as_of=None, **options):
        try:
            day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--as-of: not a date (YYYY-MM-DD): {as_of}") from exc
        result = retention_purge(as_of=day)
        self.stdout.write(
            f"purge_retention as of {day:%Y-%m-%d}: {result.bookings} bookings, {result.contracts} contracts, "
            f"{result.consents} consents, {result.customers} customers deleted"
        )
