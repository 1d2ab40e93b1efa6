"""The audit trail of the service-level catalogue: service levels, care activities and the
cost model (hourly rates) record who changed what and when, shown on the catalogue page;
planning writes none of these rows."""

import pytest
from django.urls import reverse

from customers.models import Customer
from servicelevels.models import CareActivity, CostSettings, Performer, Recurrence, ServiceLevel, Track
from servicelevels.services import care_tasks_plan
from tests.factories import CustomerFactory

from .conftest import AS_OF
from .factories import CareActivityFactory, level

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def english(owner):
    owner.language = "en"
    owner.save(update_fields=["language"])
    return owner


def changes(entry) -> dict[str, tuple[str, str]]:
    return {c.field: (c.old, c.new) for c in entry.changes}


def catalogue_entries(client):
    response = client.get(reverse("servicelevels:catalogue"))
    assert response.status_code == 200
    return response, response.context["history"]


def test_catalogue_edits_through_the_pages_are_shown_with_who_and_what(owner_client, owner, english):
    CostSettings.load()
    activity = CareActivityFactory(name="Jahresbrief", minutes=20, service_level=level("B"))

    owner_client.post(
        reverse("servicelevels:activity_minutes", kwargs={"pk": activity.pk}), {"minutes": "35"}, **HTMX
    )
    owner_client.post(
        reverse("servicelevels:cost_settings"),
        {
            "owner_hourly_rate": "120.50",
            "staff_hourly_rate": "45",
            "max_cost_share": "25",
            "assumed_years_in_class": "3",
        },
    )
    owner_client.post(
        reverse("servicelevels:level_update", kwargs={"pk": level("C").pk}),
        {"name": "Basis", "description": "Service auf Anfrage"},
    )

    response, entries = catalogue_entries(owner_client)
    level_entry, rates, minutes = entries[:3]
    assert (level_entry.subject, level_entry.user, level_entry.action) == (
        "service level C: Basis",
        owner,
        "~",
    )
    assert changes(level_entry)["name"][1] == "Basis"
    assert (rates.subject, rates.user) == ("cost settings", owner)
    assert changes(rates) == {"owner_hourly_rate": ("150.00\xa0€", "120.50\xa0€")}
    assert (minutes.subject, minutes.user) == ("care activity: Jahresbrief", owner)
    assert changes(minutes) == {"minutes": ("20", "35")}
    html = response.content.decode()
    assert 'id="catalogue-history"' in html and "120.50" in html


def test_a_new_activity_is_recorded_as_created_by_the_owner(owner_client, owner, english):
    data = {
        "service_level": level("O").pk, "name": "Rückruf", "track": Track.POTENTIAL,
        "recurrence": Recurrence.EVERY_N_MONTHS, "interval_months": "3", "weeks_before": "", "days_after": "0",
        "min_gap_value": "0", "channel": "phone", "marketing": "on", "minutes": "15",
        "performer": Performer.STAFF, "instruction": "", "active": "on", "position": "0",
    }  # fmt: skip
    assert owner_client.post(reverse("servicelevels:activity_create"), data).status_code == 302

    _response, entries = catalogue_entries(owner_client)
    created = next(e for e in entries if e.subject == "care activity: Rückruf")
    assert (created.action, created.user) == ("+", owner)


def test_a_refused_edit_records_nothing(owner_client, english):
    CostSettings.load()
    rows = CostSettings.history.count()
    response = owner_client.post(
        reverse("servicelevels:cost_settings"),
        {
            "owner_hourly_rate": "-1",
            "staff_hourly_rate": "45",
            "max_cost_share": "25",
            "assumed_years_in_class": "3",
        },
    )
    assert response.status_code == 200
    assert CostSettings.history.count() == rows


def test_planning_writes_no_catalogue_audit_rows():
    for i in range(5):
        CustomerFactory(segment="ABCO"[i % 4], status=Customer.Status.ACTIVE)
    rows = (ServiceLevel.history.count(), CareActivity.history.count(), CostSettings.history.count())

    care_tasks_plan(as_of=AS_OF)
    care_tasks_plan(as_of=AS_OF)

    assert (ServiceLevel.history.count(), CareActivity.history.count(), CostSettings.history.count()) == rows


def test_catalogue_page_is_owner_only(staff_client):
    assert staff_client.get(reverse("servicelevels:catalogue")).status_code == 403
