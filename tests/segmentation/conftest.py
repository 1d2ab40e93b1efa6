import datetime as dt
import threading
from contextlib import contextmanager

import pytest

from tests.conftest import redis_available, redis_url, require_service

AS_OF = dt.date(2026, 6, 30)

# The Redis databases this app's tests may use: 1 broker, 2 results, 3 spare.
BROKER_DB, RESULT_DB = 1, 2


@pytest.fixture
def as_of():
    return AS_OF


@pytest.fixture
def english(owner, staff):
    """Owner and staff read English, so tests can assert on visible text."""
    for user in (owner, staff):
        user.language = "en"
        user.save(update_fields=["language"])


def _reset_connections(app) -> None:
    from kombu import pools

    pools.reset()  # closes and forgets kombu's global connection/producer pools
    app._pool = None
    if "amqp" in app.__dict__:
        app.__dict__["amqp"]._producer_pool = None
    app._backend_cache = None
    app._local = threading.local()


@contextmanager
def celery_using(broker_url: str, result_backend: str | None = None):
    """Points this process's Celery app at a real broker (not eager) for the block."""
    from brokercrm.celery import app

    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(broker_url=broker_url, result_backend=result_backend, task_always_eager=False)
    _reset_connections(app)
    try:
        yield app
    finally:
        app.conf.update(saved)
        _reset_connections(app)


@pytest.fixture
def seg_redis():
    """(broker URL, result URL) on this app's Redis databases, flushed; fails in CI if Redis is
    missing, skips locally."""
    broker, results = redis_url(BROKER_DB), redis_url(RESULT_DB)
    require_service("Redis", redis_available(broker), broker)
    import redis

    for url in (broker, results):
        redis.Redis.from_url(url).flushdb()
    return broker, results
