"""The planning task on a real Celery worker (Redis broker DB 4, results DB 5), queued after the
commit. Needs PostgreSQL (the worker thread and the test share the database) and Redis; in CI
it fails (never skips) when either is missing."""

import datetime as dt
import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connections, transaction

from servicelevels import services
from servicelevels.models import CareActivity, CareTask
from tests.conftest import redis_available, redis_url, require_service
from tests.factories import CustomerFactory

from .factories import CareActivityFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

BROKER_DB, RESULT_DB = 4, 5


def _reset_connections(app) -> None:
    from kombu import pools

    pools.reset()
    app._pool = None
    if "amqp" in app.__dict__:
        app.__dict__["amqp"]._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


@contextmanager
def celery_on_redis(broker: str, results: str):
    from brokercrm.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=broker, result_backend=results, task_always_eager=False)
    _reset_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _reset_connections(app)


@pytest.fixture
def care_redis():
    broker, results = redis_url(BROKER_DB), redis_url(RESULT_DB)
    require_service("Redis", redis_available(broker), broker)
    import redis

    for url in (broker, results):
        redis.Redis.from_url(url).flushdb()
    return broker, results


@pytest.fixture
def short_lived_connections():
    """The worker thread closes its connection after each task, so the test database can be flushed."""
    settings = connections.settings["default"]
    saved = settings.get("CONN_MAX_AGE")
    settings["CONN_MAX_AGE"] = 0
    yield
    settings["CONN_MAX_AGE"] = saved


def test_planning_runs_on_a_real_worker_after_the_commit(
    require_postgres, care_redis, short_lived_connections
):
    from celery.contrib.testing import tasks as _ping  # noqa: F401 - registers celery.ping
    from celery.contrib.testing.worker import start_worker

    CareActivity.objects.all().delete()  # the seeded catalogue is restored after the test
    CareActivityFactory()
    customers = CustomerFactory.create_batch(3, segment="B", segment_since=dt.date(2025, 4, 20))

    with (
        celery_on_redis(*care_redis) as app,
        start_worker(app, pool="solo", perform_ping_check=True, shutdown_timeout=30),
    ):
        with transaction.atomic():
            services.care_tasks_plan_enqueue(
                as_of=dt.date(2026, 4, 15), customer_ids=[c.pk for c in customers]
            )
        deadline = time.monotonic() + 60
        while CareTask.objects.count() < 3 and time.monotonic() < deadline:
            time.sleep(0.2)

    assert CareTask.objects.count() == 3
    assert set(CareTask.objects.values_list("due_date", flat=True)) == {dt.date(2026, 4, 20)}
