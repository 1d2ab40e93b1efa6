"""Celery app for the kill/restart test: the project's app, with every chunk slowed down by
SEG_TEST_CHUNK_DELAY seconds so the test can kill the worker part-way through a run.

Started as `python -m celery -A tests.segmentation.slow_worker worker ...`."""

import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokercrm.settings")
django.setup()

from brokercrm.celery import app  # noqa: E402
from segmentation import services  # noqa: E402

DELAY = float(os.environ.get("SEG_TEST_CHUNK_DELAY", "0"))
_process = services.reclassification_chunk_process


def _slow_chunk_process(*, chunk_id: int) -> bool:
    time.sleep(DELAY)
    return _process(chunk_id=chunk_id)


services.reclassification_chunk_process = _slow_chunk_process

__all__ = ["app"]
