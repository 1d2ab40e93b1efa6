"""Suite-wide fixtures.

In CI (CI=true) a test that needs PostgreSQL, Redis or Chromium fails when the service is
missing; it never skips. Locally the same tests skip with the reason, so `make test` works on
a machine without them.
"""

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.factories import OwnerFactory, StaffFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def require_service(what: str, available: bool, reason: str) -> None:
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI but missing: {reason}", pytrace=False)
    pytest.skip(f"{what} not available: {reason}")


def redis_url(db: int) -> str:
    base = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    parsed = urlparse(base)
    return f"{parsed.scheme}://{parsed.netloc}/{db}"


def redis_available(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def require_redis():
    url = redis_url(int(os.environ.get("TEST_REDIS_DB", "9")))
    require_service("Redis", redis_available(url), url)
    return url


@pytest.fixture
def require_postgres(settings):
    engine = settings.DATABASES["default"]["ENGINE"]
    require_service("PostgreSQL", "postgresql" in engine, f"tests run on {engine}")


@pytest.fixture
def owner(db):
    return OwnerFactory(username="inhaber-test")


@pytest.fixture
def staff(db):
    return StaffFactory(username="innendienst-test")


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Tasks run in-process in ordinary tests, even when REDIS_URL is set (as in CI).
    Tests marked `celery_worker` talk to a real worker on Redis instead."""
    from brokercrm.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


def ensure_data_migration_rows() -> None:
    """Rows made by data migrations (roles, Sparten, default policy and rules, catalogue, beat
    schedule) — also after a transactional test's flush.

    serialized_rollback should restore them, but once Playwright or a worker thread has run,
    Django's `connections` may resolve to another connection object without the serialized copy,
    so nothing is restored. Then the data migrations' RunPython steps run again on the
    historical models, as in `migrate`.
    """
    import types

    from django.contrib.auth.models import Group
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.operations import RunPython
    from django.db.migrations.state import ProjectState

    from brokercrm.accounts.roles import STAFF_GROUP

    if Group.objects.filter(name=STAFF_GROUP).exists():
        return
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    state = ProjectState(real_apps=executor.loader.unmigrated_apps)
    editor = types.SimpleNamespace(connection=connection)
    for migration, _backwards in plan:
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(state.apps, editor)
                del state.apps  # re-rendered for the next data migration only
            operation.state_forwards(migration.app_label, state)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request of an English-speaking user leaves
    English active on the thread (as Django's LocaleMiddleware does), which would leak into the
    next test's forms and messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _fresh_kept_choices():
    """What is kept per process (brokercrm.kept: the filter forms' choices, the Sparten's ids),
    the validated filters and the rendered fragments start empty in each test: the rows they
    came from are rolled back."""
    from django.core.cache import caches

    from brokercrm import kept
    from customers.filters import validated_filters

    kept.clear_all()
    caches["fragments"].clear()
    validated_filters.clear()


@pytest.fixture(autouse=True)
def _data_migration_rows(request):
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = "transactional_db" in names or "live_server" in names
    if marker is not None and (marker.kwargs.get("transaction") or (marker.args and marker.args[0])):
        transactional = True
    request.getfixturevalue("transactional_db" if transactional else "db")
    ensure_data_migration_rows()
