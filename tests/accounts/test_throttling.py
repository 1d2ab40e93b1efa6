import pytest
from django.urls import reverse

from tests.factories import PASSWORD


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.django_db
def test_repeated_failures_lock_the_login_with_a_clear_message(client, staff, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, staff.username, "falsch")
    response = _login(client, staff.username, PASSWORD)
    assert response.status_code == 429
    assert "registration/lockout.html" in [t.name for t in response.templates]
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_owner_unlocks_a_locked_login(client, staff, owner, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, staff.username, "falsch")
    owner_client = client.__class__()
    owner_client.force_login(owner)
    page = owner_client.get(reverse("lockouts"))
    assert staff.username in page.content.decode()

    owner_client.post(reverse("lockout_release"), {"username": staff.username})

    response = _login(client, staff.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.django_db
def test_staff_cannot_unlock(staff_client):
    assert staff_client.get(reverse("lockouts")).status_code == 403
    assert staff_client.post(reverse("lockout_release"), {"username": "x"}).status_code == 403


@pytest.mark.django_db
def test_pages_send_a_content_security_policy(client):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-eval" not in csp
