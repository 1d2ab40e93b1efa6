"""Celery application. The whole beat schedule lives in django-celery-beat's tables,
seeded by a data migration (segmentation), so the owner can edit it in the admin."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brokercrm.settings")

app = Celery("brokercrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
