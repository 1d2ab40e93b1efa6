"""Docker cannot run on our machines, so the production shape is checked by reading it."""

import importlib
import shutil
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_service_of_the_production_shape_exists(compose):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(compose["services"])


@pytest.mark.parametrize("service", ["postgres", "redis", "web", "worker", "beat"])
def test_each_service_has_a_health_check(compose, service):
    assert compose["services"][service]["healthcheck"]["test"]


def test_database_lives_on_a_volume(compose):
    volumes = compose["services"]["postgres"]["volumes"]
    assert any(v.startswith("pgdata:") for v in volumes)
    assert "pgdata" in compose["volumes"]


def _module_exists(dotted: str) -> bool:
    module, _, attr = dotted.partition(":")
    mod = importlib.import_module(module)
    return not attr or hasattr(mod, attr)


def _check_command(command: list[str]) -> None:
    program = command[0]
    if program == "gunicorn":
        assert _module_exists(command[1]), command
    elif program == "celery":
        assert command[1] == "-A"
        app = importlib.import_module(command[2])
        assert hasattr(app, "celery_app"), "celery -A brokercrm needs brokercrm.celery_app"
        assert command[3] in {"worker", "beat", "inspect"}
        if "--scheduler" in command:
            assert _module_exists(command[command.index("--scheduler") + 1].replace(":", ":", 1))
    elif program == "python" and command[1] == "manage.py":
        assert (ROOT / "manage.py").exists()
        assert command[2] in get_commands(), f"manage.py {command[2]} does not exist"
    elif program == "python" and command[1] == "-c":
        compile(command[2], "<healthcheck>", "exec")
    elif program in {"pg_isready", "redis-cli", "redis-server"}:
        pass  # provided by the official images
    else:
        raise AssertionError(f"unknown program in docker-compose.yml: {command}")


def test_every_command_named_exists_in_the_project(compose):
    checked = 0
    for service in compose["services"].values():
        for command in (service.get("command"), (service.get("healthcheck") or {}).get("test")):
            if not command:
                continue
            if command[0] == "CMD":
                command = command[1:]
            _check_command(command)
            checked += 1
    assert checked >= 10


def test_web_health_endpoint_answers(client, db):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_dockerfile_starts_gunicorn_on_the_wsgi_app():
    text = (ROOT / "Dockerfile").read_text()
    assert "brokercrm.wsgi:application" in text
    assert _module_exists("brokercrm.wsgi:application")
    assert shutil.which("gunicorn") or (ROOT / ".venv/bin/gunicorn").exists()
