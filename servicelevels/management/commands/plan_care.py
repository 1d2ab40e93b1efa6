"""`python manage.py plan_care [--as-of DATE]`: plan the care tasks alone, with a progress bar."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from servicelevels.services import care_tasks_plan


def parse_day(value: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CommandError(f"--as-of: not a date: {value!r} (use YYYY-MM-DD or DD.MM.YYYY)")


class Command(BaseCommand):
    help = "Plan the care tasks of every customer for a day (default: today), as the nightly job does."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", dest="as_of", help="planning day, YYYY-MM-DD or DD.MM.YYYY")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--full",
            action="store_true",
            help="plan every customer, not only those whose planning inputs changed since the last run",
        )

    def handle(self, *args, as_of=None, no_progress=False, full=False, **options):
        day = parse_day(as_of) if as_of else timezone.localdate()
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if no_progress:
                return
            if bar is None:
                bar = tqdm(
                    total=total, unit="customers", desc=f"plan care {day:%d.%m.%Y}", file=self.stderr._out
                )
            bar.update(done - bar.n)

        try:
            result = care_tasks_plan(as_of=day, progress=progress, full=full)
        finally:
            if bar is not None:
                bar.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"{day:%d.%m.%Y}: {result.created} tasks planned, {result.cancelled} cancelled, "
                f"{result.channel_changes} channel changes (consent); "
                f"{'full pass' if result.full else 'incremental'}: {result.customers} customers."
            )
        )
