"""Every URL of the project against an explicit access table, for anonymous users, office staff
(Innendienst) and the owner (Inhaber). A URL that is added without an entry here fails the test,
so no page can be forgotten."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC = {"login", "health"}
# Open to every signed-in user (own password, language, logout).
ANY_USER = {"logout", "password_change", "password_change_done", "language_update", "home"}
STAFF = {
    "customers:list", "customers:count", "customers:export", "customers:create", "customers:detail", "customers:update",
    "customers:activity_create", "customers:contract_create", "customers:booking_create",
    "customers:consent_grant", "customers:consent_withdraw", "customers:contract_list",
    "customers:contract_count", "customers:contract_export", "customers:contract_update", "customers:contract_delete",
    "customers:history_panel", "segmentation:customer_panel", "segmentation:third_party_add",
    "segmentation:adjustment_add", "segmentation:third_party_delete", "segmentation:adjustment_delete",
    "servicelevels:my_tasks", "servicelevels:task_close", "servicelevels:customer_tasks",
}  # fmt: skip
OWNER = {
    "lockouts", "lockout_release", "customers:office_settings", "customers:privacy_export", "customers:privacy_erase",
    "customers:privacy_register", "segmentation:policy", "segmentation:policy_preview",
    "segmentation:rule_list", "segmentation:rule_create", "segmentation:rule_update", "segmentation:runs",
    "segmentation:run_now", "segmentation:override_set", "segmentation:override_end",
    "servicelevels:catalogue", "servicelevels:activity_create", "servicelevels:activity_update",
    "servicelevels:activity_minutes", "servicelevels:level_update", "servicelevels:cost_settings",
    "servicelevels:workload", "servicelevels:capacity_update", "dashboards:index", "dashboards:export",
    "dashboards:points", "dashboards:migration_customers", "dashboards:bin_customers", "imports:start",
    "imports:job", "imports:mapping", "imports:progress", "imports:confirm", "imports:export",
}  # fmt: skip


def _patterns(patterns=None, namespace=None):
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith("admin/"):
                continue
            yield from _patterns(p.url_patterns, p.namespace or namespace)
        elif isinstance(p, URLPattern) and p.name:
            yield (f"{namespace}:{p.name}" if namespace else p.name), p


def _url(name: str, pattern: URLPattern) -> str:
    kwargs = {}
    for key in pattern.pattern.regex.groupindex:
        kwargs[key] = {"kind": "customers", "file_format": "csv"}.get(key, 999999)
    return reverse(name, kwargs=kwargs)


ALL = dict(_patterns())


def test_every_url_has_an_entry_in_the_access_table():
    table = PUBLIC | ANY_USER | STAFF | OWNER
    assert not set(ALL) - table, f"add to the access table: {sorted(set(ALL) - table)}"
    assert not table - set(ALL), f"gone from the URLs: {sorted(table - set(ALL))}"
    assert len(PUBLIC) + len(ANY_USER) + len(STAFF) + len(OWNER) == len(table)


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(set(ALL) - PUBLIC))
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(_url(name, ALL[name]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OWNER))
def test_office_staff_is_refused_the_owner_area(staff_client, name):
    url = _url(name, ALL[name])
    response = staff_client.get(url)
    if response.status_code == 405:
        response = staff_client.post(url)
    assert response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(STAFF | ANY_USER))
def test_office_staff_reaches_their_pages(staff_client, name):
    response = staff_client.get(_url(name, ALL[name]))
    assert response.status_code in {200, 302, 404, 405}, response.status_code


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OWNER | STAFF | ANY_USER))
def test_owner_reaches_every_page(owner_client, name):
    response = owner_client.get(_url(name, ALL[name]))
    # 400: a drill-down asked without its parameters; 404: the placeholder id does not exist.
    assert response.status_code in {200, 302, 400, 404, 405}, response.status_code
