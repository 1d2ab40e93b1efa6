"""Redis down, then back — with this test's own redis-server process (never the shared one),
a real Celery worker and a real beat (subprocesses), and this test process as the web.

While Redis is down: the pages serve, "run now" says clearly that nothing was started and
leaves no run record, and the nightly entry that falls due cannot be sent (beat logs it).
When Redis is back — nothing restarted: the worker reconnects by itself, beat sends the nightly
job it could not send (brokercrm.beat), the worker runs it, and "run now" from the same web
process queues a job that runs too.

In CI these fail (never skip) when PostgreSQL, Redis or redis-server are missing."""

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from segmentation.models import ReclassificationRun, RunStatus
from tests.conftest import require_service
from tests.factories import CustomerFactory
from tests.segmentation.conftest import celery_using
from tests.segmentation.factories import build_book

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
ROOT = Path(__file__).resolve().parents[2]
NIGHTLY = "Nightly reclassification"  # segmentation/migrations/0003_nightly_schedule
PORTS = range(6395, 6400)  # this test's own; the shared Redis is on 6379


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class PrivateRedis:
    """A redis-server process this test starts and kills (no persistence: a restart is empty)."""

    def __init__(self, binary: str, workdir: Path):
        self.binary, self.workdir = binary, workdir
        self.port = next((p for p in PORTS if _port_free(p)), None)
        if self.port is None:  # all taken: any free port
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        self.process: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        command = [
            self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
            "--appendonly", "no", "--dir", str(self.workdir),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: _ping(self.port), 10, f"redis-server on {self.port}")

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: as a crash, no goodbye to the clients
        self.process.wait(timeout=10)
        assert not _ping(self.port)


@pytest.fixture
def private_redis(tmp_path):
    binary = shutil.which("redis-server")
    require_service("redis-server", binary is not None, "the redis-server binary is not on PATH")
    redis = PrivateRedis(binary, tmp_path)
    redis.start()
    yield redis
    if redis.process.poll() is None:
        redis.process.kill()
        redis.process.wait()


def _env(redis: PrivateRedis) -> dict:
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "brokercrm.settings",
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": redis.url(0),
        "CELERY_BROKER_URL": redis.url(0),
        "CELERY_RESULT_BACKEND": redis.url(1),
        "CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
    }


def _celery(env: dict, log: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "brokercrm", *args, "--loglevel=INFO"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _make_nightly_due() -> None:
    """The nightly entry's last run two days back: due now (as when 02:00 has come)."""
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    PeriodicTask.objects.filter(name=NIGHTLY).update(
        last_run_at=timezone.now() - dt.timedelta(days=2), enabled=True
    )
    PeriodicTasks.update_changed()


def _finished(trigger: str) -> int:
    return ReclassificationRun.objects.filter(trigger=trigger, status=RunStatus.FINISHED).count()


def _followed_up(trigger: str) -> int:
    """Runs finished with their last step (the dashboard snapshot) done."""
    return ReclassificationRun.objects.filter(
        trigger=trigger, status=RunStatus.FINISHED, dashboard_snapshot__seconds__gt=0
    ).count()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_redis_down_then_back_web_serves_and_the_jobs_run_again(
    require_postgres, private_redis, tmp_path, owner
):
    from django.test import Client

    owner.language = "en"  # to assert on the message text
    owner.save(update_fields=["language"])
    build_book(12)
    customer = CustomerFactory()
    client = Client()
    client.force_login(owner)
    env = _env(private_redis)
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    _make_nightly_due()
    worker = _celery(env, worker_log, "worker", "--pool=solo", "--without-heartbeat", "--without-gossip",
                     "--without-mingle", "-n", f"redis-fault-{private_redis.port}@%h")  # fmt: skip
    beat = _celery(env, beat_log, "beat", "--schedule", str(tmp_path / "beat-schedule"), "--pidfile=")
    schedule = ReclassificationRun.Trigger.SCHEDULE
    try:
        with celery_using(private_redis.url(0), private_redis.url(1)):
            # Normal operation: beat sends the due nightly job, the worker runs it.
            wait_for(lambda: _followed_up(schedule) == 1, 90, "the first nightly run")

            private_redis.kill()

            started = time.monotonic()
            pages = [
                reverse("home"), reverse("customers:list"), reverse("customers:detail", args=[customer.pk]),
                reverse("segmentation:runs"), reverse("dashboards:index"),
            ]  # fmt: skip
            statuses = {url: client.get(url, follow=True).status_code for url in pages}
            assert set(statuses.values()) == {200}, statuses
            runs_before = ReclassificationRun.objects.count()
            response = client.post(reverse("segmentation:run_now"), follow=True)
            assert response.status_code == 200
            assert any("The job queue (Redis) cannot be reached" in m for m in _messages(response))
            assert ReclassificationRun.objects.count() == runs_before  # no record, nothing stuck
            assert not ReclassificationRun.objects.unfinished().exists()
            assert time.monotonic() - started < 15  # no page waits for the broker

            # The nightly falls due while Redis is down: beat cannot send it.
            _make_nightly_due()
            wait_for(lambda: "could not send" in beat_log.read_text(errors="replace"), 60,
                     "beat to try to send the nightly job")  # fmt: skip
            assert _finished(schedule) == 1

            private_redis.start()  # same port, empty: nothing else restarted

            # beat sends the job it missed, the worker (reconnected by itself) runs it
            wait_for(lambda: _followed_up(schedule) == 2, 120, "the nightly run after Redis is back")
            # and "run now" from the same web process is queued and run
            response = client.post(reverse("segmentation:run_now"), follow=True)
            assert any("queued" in m for m in _messages(response)), _messages(response)
            owner_runs = ReclassificationRun.Trigger.OWNER
            wait_for(lambda: _finished(owner_runs) == 1, 60, "the owner's run after Redis is back")
    finally:
        for process in (beat, worker):
            _stop(process)
        for log in (worker_log, beat_log):
            print(f"--- {log.name}\n" + log.read_text(errors="replace")[-3000:])

    assert "Connection to broker lost" in worker_log.read_text(errors="replace")
    assert not ReclassificationRun.objects.unfinished().exists()
    assert ReclassificationRun.objects.filter(status=RunStatus.FAILED).count() == 0
