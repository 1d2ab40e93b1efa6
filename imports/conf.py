"""Limits and batch sizes of the import, in one place.

IMPORT_MAX_UPLOAD_BYTES is a setting (environment); the others are named constants that a
deployment may override in settings under the same name.
"""

from django.conf import settings

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024

# Rows validated and written per batch: one lookup query per batch for the existing keys,
# one bulk_create / bulk_update per batch.
BATCH_SIZE = 2000
# Files up to this size are checked and imported within the request; larger ones go to the
# Celery worker and the page polls the job's progress.
INLINE_MAX_BYTES = 256 * 1024
# Errors and warnings kept on the job (the count of all of them is kept too).
MAX_STORED_MESSAGES = 1000
# Records listed on the result page of an import.
MAX_LISTED_RESULTS = 500
# Celery time limits of one import run (seconds).
TASK_SOFT_TIME_LIMIT = 20 * 60
TASK_TIME_LIMIT = 22 * 60
# Customer numbers given to persons from a GDV file that carry no broker customer number.
GDV_CUSTOMER_NUMBER_PREFIX = "G"
GDV_CUSTOMER_NUMBER_DIGITS = 7


def max_upload_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES))


def inline_max_bytes() -> int:
    return int(getattr(settings, "IMPORT_INLINE_MAX_BYTES", INLINE_MAX_BYTES))


def batch_size() -> int:
    return int(getattr(settings, "IMPORT_BATCH_SIZE", BATCH_SIZE))
