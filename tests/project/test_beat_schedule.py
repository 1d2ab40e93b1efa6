"""The beat schedule: every periodic task the migrations create is listed in README's
"Production shape" table (the one place to read it), runs a registered Celery task, and the
retention purge task deletes what has passed its retention."""

import datetime as dt
import re
from pathlib import Path

import pytest
from django_celery_beat.models import PeriodicTask

from brokercrm.celery import app
from customers import privacy, tasks
from customers.models import Contract, Customer
from tests.factories import ContractFactory, CustomerFactory

pytestmark = pytest.mark.django_db
README = Path(__file__).resolve().parents[2] / "README.md"
ROW = re.compile(
    r"^\| (?P<name>[^|`]+?) \| `(?P<task>[\w.]+)` \| daily (?P<hour>\d\d):(?P<minute>\d\d) \|", re.M
)


def documented() -> dict[str, tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Production shape", 1)[1].split("\n## ", 1)[0]
    return {m["name"]: (m["task"], str(int(m["hour"])), str(int(m["minute"]))) for m in ROW.finditer(section)}


def test_the_readme_lists_the_whole_beat_schedule():
    app.loader.import_default_modules()  # registers every app's tasks, as the worker does
    scheduled = {
        t.name: (t.task, t.crontab.hour, t.crontab.minute)
        for t in PeriodicTask.objects.select_related("crontab").exclude(name="celery.backend_cleanup")
    }
    assert scheduled == documented()
    assert len(scheduled) >= 2
    for name, (task, _hour, _minute) in scheduled.items():
        assert task in app.tasks, name


def test_retention_purge_runs_daily_at_0330_berlin():
    entry = PeriodicTask.objects.select_related("crontab").get(task="customers.tasks.purge_retention")
    assert entry.enabled
    assert (entry.crontab.minute, entry.crontab.hour, entry.crontab.day_of_week) == ("30", "3", "*")
    assert str(entry.crontab.timezone) == "Europe/Berlin"
    assert tasks.purge_retention.soft_time_limit and tasks.purge_retention.time_limit


def test_the_purge_task_deletes_what_has_passed_its_retention(owner):
    long_ago = dt.date(2010, 1, 1)
    expired = CustomerFactory()
    ContractFactory(customer=expired)
    privacy.customer_erase(customer=expired, received_on=dt.date.today(), reason="Wunsch", by=owner)
    assert Contract.objects.filter(customer_id=expired.pk).count() == 1  # retained, restricted
    # Backdate the erasure: the contract's 10 years (counted from the erasure at the latest) passed.
    Customer.objects.filter(pk=expired.pk).update(restricted_at=long_ago, retention_until=long_ago)
    kept = CustomerFactory()
    ContractFactory(customer=kept)
    privacy.customer_erase(customer=kept, received_on=dt.date.today(), reason="Wunsch", by=owner)

    deleted = tasks.purge_retention.delay().get()

    assert deleted >= 1
    assert not Customer.objects.filter(pk=expired.pk).exists()
    assert Customer.objects.filter(pk=kept.pk).exists()
    assert Contract.objects.filter(customer_id=kept.pk).count() == 1
    assert tasks.purge_retention.delay().get() == 0  # idempotent
