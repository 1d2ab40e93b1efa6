"""The import flow: upload -> column mapping -> check (dry run) -> confirm -> import.

Nothing reaches the CRM tables before `import_job_confirm`; the import itself runs in one
transaction, so it is all or nothing. Checks and imports of large files run in the Celery
worker (queued on commit); small ones run at once. A run that is delivered twice does
nothing the second time (the job's status says whether it is still due).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from . import conf
from .gdv_format import RECORD_LENGTH, split_records
from .gdv_format import decode as gdv_decode
from .gdv_import import run_gdv
from .importers import IMPORTERS, ImportAborted, Outcome
from .layouts import layout_columns, missing_required, suggest_mapping
from .models import ImportJob
from .parsing import FileProblem
from .tabular import SAMPLE_ROWS, detect_format, read_table

logger = logging.getLogger(__name__)

CHECK = "check"
IMPORT = "import"
MAPPABLE = (ImportJob.Status.MAPPING, ImportJob.Status.READY, ImportJob.Status.INVALID)


def check_upload_size(size: int | None) -> None:
    """Refuses a file above IMPORT_MAX_UPLOAD_BYTES before anything of it is read."""
    limit = conf.max_upload_bytes()
    if size is not None and size > limit:
        raise FileProblem(
            _(
                "The file is %(size)s MB; files up to %(limit)s MB can be imported. Split it into smaller files."
            )
            % {
                "size": number_format(size / 1024 / 1024, 1),
                "limit": number_format(limit / 1024 / 1024, 0),
            }
        )


def import_job_create(*, upload: UploadedFile, kind: str, by) -> ImportJob:
    check_upload_size(upload.size)
    return import_job_create_from_bytes(
        content=upload.read(), file_name=upload.name or "upload", kind=kind, by=by
    )


@transaction.atomic
def import_job_create_from_bytes(
    *, content: bytes, file_name: str, kind: str, by, dispatch: bool = True
) -> ImportJob:
    """Reads enough of the file to refuse it at once when it cannot be read (size, empty,
    encoding, format); a GDV file goes straight to the check, a table to the mapping step.
    `dispatch=False` leaves running the check to the caller (the command line)."""
    check_upload_size(len(content))
    if not content.strip():
        raise FileProblem(_("The file is empty."))
    job = ImportJob(
        kind=kind,
        file_name=file_name[:255],
        file_size=len(content),
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
        created_by=by,
    )
    if kind == ImportJob.Kind.GDV:
        records = split_records(gdv_decode(content))
        if not records or not records[0][1][:4].isdigit():
            raise FileProblem(
                _("The file does not start with a GDV record (Satzart 0001); it is not a GDV file.")
            )
        job.file_format = ImportJob.Format.GDV
        job.encoding = "iso-8859-1"
        job.total_rows = len(records)
        job.status = ImportJob.Status.CHECKING
        job.save()
        if dispatch:
            _dispatch(job, CHECK)
        return job
    if content[:4] == b"0001" and len(content.split(b"\n", 1)[0].rstrip(b"\r")) == RECORD_LENGTH:
        raise FileProblem(_("This is a GDV file; choose “GDV file” as what the file contains."))
    job.file_format = detect_format(content)
    table = read_table(content, job.file_format, limit=SAMPLE_ROWS)
    job.encoding = table.encoding
    job.delimiter = table.delimiter
    job.headers = table.headers
    job.sample = [[_sample_text(v) for v in row] for row in table.data]
    job.mapping = suggest_mapping(kind, table.headers)
    job.status = ImportJob.Status.MAPPING
    job.save()
    return job


def _sample_text(value) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%d.%m.%Y")
    return str(value)[:80]


@transaction.atomic
def import_job_map(*, job: ImportJob, mapping: dict[str, str], dispatch: bool = True) -> ImportJob:
    """Stores the column mapping ({column index: layout key}) and starts the check."""
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if job.status not in MAPPABLE:
        raise ValidationError(_("This import can no longer be changed."), code="state")
    columns = layout_columns(job.kind)
    clean: dict[str, str] = {}
    for index, key in mapping.items():
        if not key:
            continue
        if key not in columns or not str(index).isdigit() or int(index) >= len(job.headers):
            raise ValidationError(_("Unknown column in the mapping."), code="unknown")
        if key in clean.values():
            raise ValidationError(
                _("Two columns of the file are mapped to “%(field)s”.") % {"field": columns[key].label},
                code="twice",
            )
        clean[str(index)] = key
    missing = missing_required(job.kind, clean)
    if missing:
        raise ValidationError(
            _("The file has no column for: %(fields)s. These columns are required.")
            % {"fields": ", ".join(str(c.label) for c in missing)},
            code="required",
        )
    job.mapping = clean
    _reset(job, ImportJob.Status.CHECKING)
    job.save()
    if dispatch:
        _dispatch(job, CHECK)
    return job


@transaction.atomic
def import_job_confirm(*, job: ImportJob, dispatch: bool = True) -> ImportJob:
    """The owner's go: the checked file is imported, all or nothing."""
    job = ImportJob.objects.select_for_update().defer("content").get(pk=job.pk)
    if job.status != ImportJob.Status.READY:
        raise ValidationError(_("Only a checked file without errors can be imported."), code="state")
    job.status = ImportJob.Status.IMPORTING
    job.processed_rows = 0
    job.save(update_fields=["status", "processed_rows", "updated_at"])
    if dispatch:
        _dispatch(job, IMPORT)
    return job


def _reset(job: ImportJob, status: str) -> None:
    job.status = status
    job.processed_rows = 0
    job.counts, job.checks, job.errors, job.warnings = {}, {}, [], []
    job.error_count = job.warning_count = 0
    job.message = ""


def _dispatch(job: ImportJob, phase: str) -> None:
    if job.file_size <= conf.inline_max_bytes():
        transaction.on_commit(lambda: import_job_run(job_id=job.pk, phase=phase))
    else:
        from .tasks import run_import_job

        transaction.on_commit(lambda: run_import_job.delay(job.pk, phase))


def import_job_run(*, job_id: int, phase: str) -> ImportJob:
    """Checks (dry run) or imports the job's file; called by the worker or inline."""
    job = ImportJob.objects.get(pk=job_id)
    due = ImportJob.Status.CHECKING if phase == CHECK else ImportJob.Status.IMPORTING
    if job.status != due:
        return job
    outcome = Outcome()
    progress = ProgressReporter(job, in_transaction=phase == IMPORT)
    try:
        if phase == CHECK:
            _execute(job, commit=False, outcome=outcome, progress=progress)
            _finish(job, outcome, ImportJob.Status.INVALID if outcome.error_count else ImportJob.Status.READY)
        else:
            with transaction.atomic():
                _execute(job, commit=True, outcome=outcome, progress=progress)
                if outcome.error_count:
                    raise ImportAborted
                _finish(job, outcome, ImportJob.Status.DONE)
    except ImportAborted:
        job.message = _(
            "The data in the CRM changed since the check, and the file no longer fits it. Nothing was imported; "
            "check the file again."
        )
        _finish(job, outcome, ImportJob.Status.FAILED)
    except FileProblem as exc:
        job.message = str(exc)
        _finish(job, outcome, ImportJob.Status.INVALID if phase == CHECK else ImportJob.Status.FAILED)
    except SoftTimeLimitExceeded:
        job.message = _("The import took too long and was stopped. Nothing was imported; split the file.")
        _finish(job, outcome, ImportJob.Status.FAILED)
    except Exception as exc:  # the job must not stay "running" for ever
        logger.exception("import job %s failed", job_id)
        job.message = _(
            "The import stopped because of an unexpected error (%(error)s). Nothing was imported."
        ) % {"error": exc.__class__.__name__}
        _finish(job, outcome, ImportJob.Status.FAILED)
    finally:
        progress.close()
    return job


def _execute(job: ImportJob, *, commit: bool, outcome: Outcome, progress: Callable[[int], None]) -> None:
    reason = _("Import of %(file)s (#%(job)s)") % {"file": job.file_name, "job": job.pk}
    if job.kind == ImportJob.Kind.GDV:
        run_gdv(
            bytes(job.content),
            commit=commit,
            by=job.created_by,
            outcome=outcome,
            progress=progress,
            reason=reason,
        )
        return
    table = read_table(bytes(job.content), job.file_format)
    if job.total_rows != len(table):
        job.total_rows = len(table)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
    importer = IMPORTERS[job.kind](
        table=table, mapping=job.mapping, commit=commit, by=job.created_by, outcome=outcome, reason=reason
    )
    importer.run(progress)


def _finish(job: ImportJob, outcome: Outcome, status: str) -> None:
    job.status = status
    job.counts = dict(outcome.counts)
    job.checks = {**outcome.checks, "ids": outcome.ids} if outcome.ids else outcome.checks
    job.errors = outcome.errors
    job.error_count = outcome.error_count
    job.warnings = outcome.warnings
    job.warning_count = outcome.warning_count
    job.processed_rows = job.total_rows if status in (ImportJob.Status.READY, ImportJob.Status.DONE) else 0
    now = timezone.now()
    if status == ImportJob.Status.DONE:
        job.imported_at = now
    else:
        job.checked_at = now
    job.save(
        update_fields=[
            "status", "counts", "checks", "errors", "error_count", "warnings", "warning_count", "message",
            "processed_rows", "total_rows", "checked_at", "imported_at", "updated_at",
        ]
    )  # fmt: skip


class ProgressReporter:
    """Writes the job's progress at most twice a second. During the import the CRM writes are
    in an open transaction, so on PostgreSQL the progress goes through a second connection
    (otherwise no one would see it before the end); on SQLite it is simply not shown then."""

    INTERVAL = 0.5

    def __init__(self, job: ImportJob, *, in_transaction: bool) -> None:
        self.job = job
        self.last = 0.0
        self.side = None
        self.enabled = True
        if in_transaction:
            self.enabled = connection.vendor == "postgresql"
            if self.enabled:
                self.side = connections.create_connection(DEFAULT_DB_ALIAS)

    def __call__(self, processed: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self.last < self.INTERVAL:
            return
        self.last = now
        processed = min(processed, self.job.total_rows)
        if self.side is None:
            ImportJob.objects.filter(pk=self.job.pk).update(processed_rows=processed)
            return
        table = self.side.ops.quote_name(ImportJob._meta.db_table)
        try:
            with self.side.cursor() as cursor:
                cursor.execute("SET lock_timeout = '1s'")
                cursor.execute(
                    f"UPDATE {table} SET processed_rows = %s WHERE id = %s", [processed, self.job.pk]
                )
        except Exception:  # progress is a courtesy; never let it break the import
            logger.warning("progress of import job %s not written", self.job.pk, exc_info=True)
            self.enabled = False

    def close(self) -> None:
        if self.side is not None:
            self.side.close()
            self.side = None
