"""python manage.py reclassify [--as-of DATE] [--dry-run] [--chunk-size N]"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from segmentation import services
from segmentation.models import ReclassificationRun


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        try:
            return dt.datetime.strptime(value, "%d.%m.%Y").date()
        except ValueError as exc:
            raise CommandError(f"not a date: {value!r} (use YYYY-MM-DD or DD.MM.YYYY)") from exc


class Command(BaseCommand):
    help = (
        "Reclassifies every customer (A/B/C/O) as of a date, in this process, set-based in chunks "
        "(on PostgreSQL on JOB_CONNECTIONS database connections at once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, default=None, help="YYYY-MM-DD (default: today)")
        parser.add_argument("--dry-run", action="store_true", help="compute and report, change nothing")
        parser.add_argument("--chunk-size", type=int, default=services.CHUNK_SIZE)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, as_of, dry_run, chunk_size, no_progress, **options):
        as_of = as_of or timezone.localdate()
        if chunk_size < 1:
            raise CommandError("--chunk-size must be positive")
        bar = tqdm(total=0, unit="chunk", desc=f"reclassify {as_of}", disable=no_progress, file=self.stderr)

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            run = services.reclassification_run(
                as_of=as_of,
                dry_run=dry_run,
                chunk_size=chunk_size,
                progress=progress,
                trigger=ReclassificationRun.Trigger.COMMAND,
            )
        finally:
            bar.close()
        transitions = ", ".join(f"{k}: {v}" for k, v in run.transitions.items()) or "none"
        self.stdout.write(
            f"{'Dry run' if dry_run else 'Run'} #{run.pk} as of {as_of}: {run.customers} customers, "
            f"{run.changed} class changes ({transitions}), {run.figures_changed} customers with new figures; "
            f"thresholds revenue {run.revenue_threshold} €, potential {run.potential_threshold} €."
        )
