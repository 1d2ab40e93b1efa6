"""Playwright drives Debian's Chromium (/usr/bin/chromium); never a downloaded browser."""

import os
import shutil

import pytest

from tests.conftest import require_service
from tests.factories import PASSWORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {
        **browser_context_args,
        "locale": "de-DE",
        "timezone_id": "Europe/Berlin",
        "viewport": {"width": 1366, "height": 900},
    }


@pytest.fixture(autouse=True)
def _require_chromium():
    require_service("Chromium", bool(shutil.which(CHROMIUM)), CHROMIUM)


@pytest.fixture
def console_errors(page):
    """Collects JavaScript errors and console errors of the page; assert it stays empty."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def login(page, live_server, username: str, password: str = PASSWORD) -> None:
    """Signs in on the login page as a person does (the caller waits for the page it expects)."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("form button[type=submit]").click()
