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
