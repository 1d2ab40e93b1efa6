"""python manage.py import_gdv FILE [--dry-run] [--user NAME]

For scheduled imports of an insurer's GDV file: checks it (the same preview as the web page —
counts and every error with line, field and reason) and, unless --dry-run, imports it all or
nothing. Exits with status 1 when the file is rejected, 2 when it cannot be read at all.
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from imports import conf, services
from imports.models import ImportJob
from imports.parsing import FileProblem
from imports.selectors import import_job_file_checks, import_job_summary


class Command(BaseCommand):
    help = "Check and import a GDV VU-Vermittler file (Satzarten 0001, 0100, 0200, 9999)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--dry-run", action="store_true", help="Only check the file and print the preview."
        )
        parser.add_argument("--user", help="Username recorded as the importer.")

    def handle(self, *args, file: Path, dry_run: bool, user: str | None, **options):
        by = None
        if user:
            by = get_user_model().objects.filter(username=user).first()
            if by is None:
                raise CommandError(f"There is no user {user!r}.")
        if not file.is_file():
            raise CommandError(f"{file} is not a file.", returncode=2)
        try:
            services.check_upload_size(file.stat().st_size)
            job = services.import_job_create_from_bytes(
                content=file.read_bytes(), file_name=file.name, kind=ImportJob.Kind.GDV, by=by, dispatch=False
            )
        except FileProblem as exc:
            raise CommandError(str(exc), returncode=2) from None
        job = services.import_job_run(job_id=job.pk, phase=services.CHECK)
        self._print(job)
        if job.status != ImportJob.Status.READY:
            raise CommandError(
                f"The file is rejected ({job.error_count} errors); nothing was imported.", returncode=1
            )
        if dry_run:
            self.stdout.write(self.style.SUCCESS("Dry run: the file is valid; nothing was written."))
            return
        services.import_job_confirm(job=job, dispatch=False)
        job = services.import_job_run(job_id=job.pk, phase=services.IMPORT)
        if job.status != ImportJob.Status.DONE:
            self._print(job)
            raise CommandError(job.message or "The import failed; nothing was written.", returncode=1)
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported: {job.counts.get('create', 0)} new contracts, "
                f"{job.counts.get('update', 0)} changed (import #{job.pk})."
            )
        )

    def _print(self, job: ImportJob) -> None:
        for item in import_job_summary(job=job):
            self.stdout.write(f"{str(item['label']):<45} {item['value']:>8}")
        for check in import_job_file_checks(job=job):
            self.stdout.write(
                f"Nachsatz VU {check['vu_number']}: records {check['records_read']}/{check['records_declared']}"
                f" {'ok' if check['records_ok'] else 'DIFFERS'}, Gesamtbeitrag {check['premium_read']}/"
                f"{check['premium_declared']} {'ok' if check['premium_ok'] else 'DIFFERS'}"
            )
        if job.message:
            self.stderr.write(job.message)
        for error in job.errors:
            line = error["row"] if error["row"] is not None else "-"
            self.stderr.write(f"line {line}: {error['column']}: {error['message']}")
        if job.error_count > len(job.errors):
            self.stderr.write(
                f"… and {job.error_count - len(job.errors)} more errors (limit {conf.MAX_STORED_MESSAGES})."
            )
