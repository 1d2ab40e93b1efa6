"""Faults of the services the web depends on.

PostgreSQL: the server drops the connection (restart, failover, an idle timeout) between or
during requests. The requests go through Django's WSGI handler as a WSGI server calls it — with
the request_started/request_finished signals that the test client switches off — so the
persistent connection (CONN_MAX_AGE) and its health check (CONN_HEALTH_CHECKS) work as in
production. The connection is killed with pg_terminate_backend from a second connection; and
the server itself is restarted (pg_ctl restart) — a private cluster this test starts on a free
port (initdb into a temporary directory), never the shared server.

Redis: with the broker on a closed port the pages staff use keep working (the segmentation
tests cover "run now" with Redis down; test_faults_redis.py takes a Redis of its own down and
back with a real worker and beat).
"""

import contextlib
import os
import socket
import subprocess
import time
from urllib.parse import urlparse

import psycopg2
import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import OperationalError, connection
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client, RequestFactory
from django.urls import reverse

from customers.models import Customer
from tests.conftest import require_service
from tests.factories import CustomerFactory, StaffFactory

DEAD_REDIS = "redis://127.0.0.1:6390/0"


# --- PostgreSQL -------------------------------------------------------------------------------


class Browser:
    """Requests through the WSGI handler, with a logged-in session and a CSRF cookie."""

    def __init__(self, user):
        client = Client()
        client.force_login(user)
        self.csrf = _get_new_csrf_string()
        self.cookie = f"sessionid={client.cookies['sessionid'].value}; csrftoken={self.csrf}"
        self.handler = WSGIHandler()
        self.factory = RequestFactory()

    def request(self, method: str, path: str, data: dict | None = None) -> tuple[int, bytes]:
        if method == "POST":
            request = self.factory.post(path, {**(data or {}), "csrfmiddlewaretoken": self.csrf})
        else:
            request = self.factory.get(path, data or {})
        environ = {**request.environ, "HTTP_COOKIE": self.cookie}
        status: list[str] = []
        response = self.handler(environ, lambda s, headers, exc_info=None: status.append(s))
        try:
            body = b"".join(response)
        finally:
            response.close()  # as a WSGI server does: fires request_finished
        return int(status[0].split()[0]), body


def backend_pid() -> int:
    connection.ensure_connection()
    return connection.connection.get_backend_pid()


def kill_backend(pid: int) -> None:
    """Terminate a PostgreSQL backend from another connection and wait until it is gone."""
    other = psycopg2.connect(**connection.get_connection_params())
    other.autocommit = True
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            for _ in range(100):
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
                if cursor.fetchone()[0] == 0:
                    return
                time.sleep(0.05)
    finally:
        other.close()
    raise AssertionError(f"backend {pid} still alive")


# Transactional (the handler commits as in production); serialized_rollback restores the rows
# of the data migrations afterwards, as the suite's other transactional tests do.
committing_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def browser(require_postgres):
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0
    return Browser(StaffFactory(username="innendienst-fault"))


@pytest.mark.postgres
@committing_db
def test_the_connection_is_persistent_so_the_fault_can_happen(browser):
    assert browser.request("GET", reverse("customers:list"))[0] == 200
    pid = backend_pid()

    assert browser.request("GET", reverse("customers:list"))[0] == 200
    assert backend_pid() == pid


@pytest.mark.postgres
@committing_db
def test_a_connection_killed_between_requests_is_replaced_before_the_next_one(browser):
    customer = CustomerFactory()
    assert browser.request("GET", reverse("customers:list"))[0] == 200
    pid = backend_pid()

    kill_backend(pid)

    status, body = browser.request("GET", reverse("customers:detail", args=[customer.pk]))
    assert status == 200
    assert customer.number.encode() in body
    assert backend_pid() != pid


@pytest.mark.postgres
@committing_db
def test_without_health_checks_the_killed_connection_would_fail_a_request(browser):
    """The control: the fault is real, and the health check is what makes the request succeed."""
    connection.close()
    connection.settings_dict["CONN_HEALTH_CHECKS"] = False
    try:
        assert browser.request("GET", reverse("customers:list"))[0] == 200
        kill_backend(backend_pid())

        assert browser.request("GET", reverse("customers:list"))[0] == 500
        assert browser.request("GET", reverse("customers:list"))[0] == 200  # closed after the error
    finally:
        connection.close()
        connection.settings_dict["CONN_HEALTH_CHECKS"] = True


@pytest.mark.postgres
@committing_db
def test_a_connection_killed_during_a_save_loses_nothing_and_the_next_request_succeeds(browser):
    customer = CustomerFactory(city="Sangerhausen")
    url = reverse("customers:update", args=[customer.pk])
    form = {
        "kind": "person", "salutation": "1", "first_name": customer.first_name, "name": customer.name,
        "postal_code": "06108", "city": "Halle (Saale)", "country": "DE", "status": "active",
        "cars": "0", "children": "0", "version": str(customer.version),
    }  # fmt: skip
    assert browser.request("GET", url)[0] == 200
    killed: list[int] = []

    def kill_at_the_update(execute, sql, params, many, context):
        if not killed and sql.lstrip().upper().startswith('UPDATE "CUSTOMERS_CUSTOMER"'):
            killed.append(backend_pid())
            kill_backend(killed[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(kill_at_the_update):
        status, _body = browser.request("POST", url, form)

    assert killed and status == 500
    customer.refresh_from_db()  # a new connection: the UPDATE was not committed
    assert (customer.city, customer.version) == ("Sangerhausen", 1)
    assert not Customer.history.filter(id=customer.pk, city="Halle (Saale)").exists()
    # The same form, sent again, saves: nothing was half-written and the version still matches.
    assert browser.request("POST", url, form)[0] == 302
    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("Halle (Saale)", 2)


@pytest.mark.postgres
@committing_db
def test_the_health_endpoint_recovers_too(browser):
    assert browser.request("GET", reverse("health"))[0] == 200
    kill_backend(backend_pid())

    assert browser.request("GET", reverse("health"))[0] == 200


@pytest.mark.postgres
@committing_db
def test_the_test_connection_itself_reconnects_after_the_fault(browser):
    kill_backend(backend_pid())

    with pytest.raises(OperationalError):
        Customer.objects.count()  # outside a request nothing checks the connection first
    connection.close()
    assert Customer.objects.count() >= 0


# --- Redis ------------------------------------------------------------------------------------


def port_closed(url: str) -> bool:
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port), timeout=0.5).close()
    except OSError:
        return True
    return False


@pytest.fixture
def redis_down(settings):
    """Broker and result backend on a closed port, tasks really sent (not run in-process)."""
    from brokercrm.celery import app

    assert port_closed(DEAD_REDIS), "something listens on the port meant to be dead"
    settings.REDIS_URL = settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = DEAD_REDIS
    previous = (app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager)
    app.conf.broker_url = app.conf.result_backend = DEAD_REDIS
    app.conf.task_always_eager = False
    yield DEAD_REDIS
    app.conf.broker_url, app.conf.result_backend, app.conf.task_always_eager = previous


@pytest.mark.redis
@pytest.mark.django_db
def test_the_web_keeps_serving_while_redis_is_down(redis_down, client):
    user = StaffFactory(username="innendienst-redis")
    client.force_login(user)
    customer = CustomerFactory()
    started = time.monotonic()

    pages = [
        reverse("home"),
        reverse("customers:list"),
        reverse("customers:detail", args=[customer.pk]),
        reverse("customers:history_panel", args=[customer.pk]),
        reverse("customers:contract_list"),
        reverse("customers:update", args=[customer.pk]),
    ]
    statuses = [client.get(url, follow=True).status_code for url in pages]
    saved = client.post(
        reverse("customers:create"),
        {"kind": "person", "salutation": "1", "name": "Neukunde", "country": "DE", "status": "active",
         "cars": "0", "children": "0"},
    )  # fmt: skip

    assert statuses == [200] * len(pages)
    assert saved.status_code == 302 and Customer.objects.filter(name="Neukunde").exists()
    assert time.monotonic() - started < 10  # no page waits for the broker


@pytest.mark.redis
@pytest.mark.django_db
def test_the_owners_pages_keep_serving_while_redis_is_down(redis_down, owner_client):
    from django.urls import NoReverseMatch

    from brokercrm.accounts.context_processors import NAVIGATION

    urls = []
    for _label, name, _perm in NAVIGATION:
        try:
            urls.append(reverse(name))
        except NoReverseMatch:
            continue

    statuses = {url: owner_client.get(url, follow=True).status_code for url in urls}

    assert set(statuses.values()) == {200}, statuses


# --- PostgreSQL server restarted (a private cluster, never the shared server) -----------------


def _pg_bin(name: str) -> str | None:
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else None


class PrivateCluster:
    """A PostgreSQL cluster of this test's own: initdb into a temporary directory, pg_ctl on a
    free port, run as the postgres OS user (the server refuses to run as root)."""

    def __init__(self, workdir):
        import pwd

        self.dir = workdir
        self.data = workdir / "data"
        self.log = workdir / "server.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.as_postgres = []
        if os.geteuid() == 0:  # the server refuses to run as root: as the postgres OS user
            user = pwd.getpwnam("postgres")
            os.chown(workdir, user.pw_uid, user.pw_gid)
            self.as_postgres = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str, timeout: int = 60) -> None:
        done = subprocess.run([*self.as_postgres, *command], timeout=timeout, capture_output=True, text=True)
        assert done.returncode == 0, f"{command[0]} failed: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                  "-E", "UTF8", "--locale=C")  # fmt: skip

    def pg_ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
                  *extra, action)  # fmt: skip

    def restart(self) -> None:
        self.pg_ctl("restart", "-m", "fast")  # fast: sessions are terminated, open transactions rolled back


def _copy_database(source: dict, port: int, name: str) -> None:
    """Schema and rows (those of the data migrations) of the test database into the cluster."""
    env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
    src = [
        "-h",
        source["HOST"] or "127.0.0.1",
        "-p",
        str(source["PORT"] or 5432),
        "-U",
        source["USER"] or "postgres",
    ]
    dst = ["-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    subprocess.run([_pg_bin("createdb"), *dst, name], check=True, timeout=60, env=env)
    dump = subprocess.run([_pg_bin("pg_dump"), *src, "--no-owner", "--no-privileges", source["NAME"]],
                          check=True, timeout=120, env=env, capture_output=True)  # fmt: skip
    subprocess.run([_pg_bin("psql"), *dst, "-q", "-v", "ON_ERROR_STOP=1", name], input=dump.stdout,
                   check=True, timeout=120, env=env, capture_output=True)  # fmt: skip


@pytest.fixture
def private_cluster(require_postgres):
    """The default connection pointed at a private cluster holding a copy of the test database;
    pointed back (and the cluster stopped) afterwards."""
    import shutil as _shutil
    import tempfile
    from pathlib import Path

    tools = [_pg_bin(name) for name in ("initdb", "pg_ctl", "pg_dump", "psql", "createdb")]
    ok = all(tools) and _shutil.which("runuser") is not None
    require_service(
        "PostgreSQL binaries", ok, "initdb/pg_ctl/pg_dump under /usr/lib/postgresql/*/bin and runuser"
    )
    # Not under pytest's tmp_path: the postgres OS user must be able to reach the directory.
    workdir = Path(tempfile.mkdtemp(prefix="brokercrm-pgcluster-"))
    cluster = PrivateCluster(workdir)
    cluster.init()
    cluster.pg_ctl("start")
    settings = connection.settings_dict
    saved = {key: settings[key] for key in ("NAME", "HOST", "PORT", "USER", "PASSWORD")}
    try:
        _copy_database(settings, cluster.port, "fault")
        connection.close()
        settings.update(NAME="fault", HOST="127.0.0.1", PORT=str(cluster.port), USER="postgres", PASSWORD="")
        yield cluster
    finally:
        connection.close()
        settings.update(saved)
        with contextlib.suppress(AssertionError):  # not running
            cluster.pg_ctl("stop", "-m", "immediate")
        _shutil.rmtree(workdir, ignore_errors=True)


def _served_by(port: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        return cursor.fetchone()[0] == port


@pytest.mark.postgres
@committing_db
def test_a_real_server_restart_between_requests_and_during_a_save_loses_nothing(private_cluster):
    browser = Browser(StaffFactory(username="innendienst-restart"))
    assert _served_by(private_cluster.port)  # the requests below really go to the private server
    customer = CustomerFactory(city="Sangerhausen")
    detail = reverse("customers:detail", args=[customer.pk])
    assert browser.request("GET", detail)[0] == 200
    pid = backend_pid()

    private_cluster.restart()  # between two requests

    status, body = browser.request("GET", detail)
    assert status == 200 and customer.number.encode() in body
    assert backend_pid() != pid

    url = reverse("customers:update", args=[customer.pk])
    form = {
        "kind": "person", "salutation": "1", "first_name": customer.first_name, "name": customer.name,
        "postal_code": "06108", "city": "Halle (Saale)", "country": "DE", "status": "active",
        "cars": "0", "children": "0", "version": str(customer.version),
    }  # fmt: skip
    restarted: list[bool] = []

    def restart_at_the_update(execute, sql, params, many, context):
        if not restarted and sql.lstrip().upper().startswith('UPDATE "CUSTOMERS_CUSTOMER"'):
            restarted.append(True)
            private_cluster.restart()  # the server goes away in the middle of the save
        return execute(sql, params, many, context)

    with connection.execute_wrapper(restart_at_the_update):
        status, _body = browser.request("POST", url, form)

    assert restarted and status == 500
    connection.close()
    customer.refresh_from_db()  # nothing half-written: the update and its history row are gone
    assert (customer.city, customer.version) == ("Sangerhausen", 1)
    assert not Customer.history.filter(id=customer.pk, city="Halle (Saale)").exists()
    # the next requests succeed, and the same form saves
    assert browser.request("GET", reverse("customers:list"))[0] == 200
    assert browser.request("POST", url, form)[0] == 302
    customer.refresh_from_db()
    assert (customer.city, customer.version) == ("Halle (Saale)", 2)
    assert browser.request("GET", reverse("health"))[0] == 200
