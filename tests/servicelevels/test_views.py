"""Pages of both roles: the worklist, closing tasks, the customer fragment, catalogue, workload."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Activity
from servicelevels.models import (
    CareActivity,
    CareTask,
    CostSettings,
    Performer,
    Recurrence,
    Track,
    WeeklyCapacity,
)
from tests.factories import CustomerFactory, StaffFactory, UserFactory

from .factories import CareActivityFactory, CareTaskFactory, level

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def today():
    return timezone.localdate()


# -- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs", "staff_status"),
    [
        ("servicelevels:my_tasks", {}, 200),
        ("servicelevels:catalogue", {}, 403),
        ("servicelevels:workload", {}, 403),
        ("servicelevels:cost_settings", {}, 403),
        ("servicelevels:activity_create", {}, 403),
    ],
)
def test_pages_by_role(client, owner, staff, name, kwargs, staff_status):
    url = reverse(name, kwargs=kwargs)
    assert client.get(url).status_code == 302  # login first
    client.force_login(staff)
    assert client.get(url).status_code == staff_status
    client.force_login(owner)
    assert client.get(url).status_code == 200


def test_a_user_without_a_role_may_not_see_tasks(client):
    client.force_login(UserFactory())

    assert client.get(reverse("servicelevels:my_tasks")).status_code == 403


def test_navigation_shows_my_tasks_to_staff(staff_client):
    page = staff_client.get(reverse("servicelevels:my_tasks"))

    assert reverse("servicelevels:my_tasks") in [item["url"] for item in page.context["nav_items"]]


# -- worklist ---------------------------------------------------------------------------------


def test_worklist_sections_for_staff(staff_client, staff, today):
    other = StaffFactory()
    overdue = CareTaskFactory(assignee=staff, due_date=today - dt.timedelta(days=3))
    due_today = CareTaskFactory(assignee=staff, due_date=today)
    later_this_week = CareTaskFactory(assignee=None, due_date=today + dt.timedelta(days=6 - today.weekday()))
    CareTaskFactory(assignee=staff, due_date=today + dt.timedelta(days=8 - today.weekday()))  # next week
    CareTaskFactory(assignee=other, due_date=today)  # someone else's
    CareTaskFactory(assignee=staff, due_date=today, status="done", closed_at=timezone.now())

    response = staff_client.get(reverse("servicelevels:my_tasks"))

    worklist = response.context["worklist"]
    sections = {key: [t.pk for t in rows] for key, rows in worklist.sections.items()}
    expected_week = [later_this_week.pk] if later_this_week.due_date > today else []
    expected_today = [due_today.pk] + ([later_this_week.pk] if later_this_week.due_date == today else [])
    assert sections == {"overdue": [overdue.pk], "today": expected_today, "week": expected_week}
    assert worklist.counts["overdue"] == 1
    assert f'id="task-{overdue.pk}"' in response.content.decode()


def test_worklist_filters_by_class_track_and_activity(staff_client, staff, today):
    care = CareActivityFactory(service_level=level("B"))
    potential = CareActivityFactory(service_level=level("O"), track=Track.POTENTIAL)
    b_task = CareTaskFactory(assignee=staff, due_date=today, activity=care, customer__segment="B")
    o_task = CareTaskFactory(assignee=staff, due_date=today, activity=potential, customer__segment="O")
    url = reverse("servicelevels:my_tasks")

    def shown(**params):
        worklist = staff_client.get(url, params).context["worklist"]
        return {t.pk for rows in worklist.sections.values() for t in rows}

    assert shown() == {b_task.pk, o_task.pk}
    assert shown(segment="O") == {o_task.pk}
    assert shown(track="care") == {b_task.pk}
    assert shown(activity=potential.pk) == {o_task.pk}
    assert shown(activity=999999) == {b_task.pk, o_task.pk}  # an unknown choice filters nothing


def test_worklist_filter_with_htmx_renders_the_list_only(staff_client, staff, today):
    CareTaskFactory(assignee=staff, due_date=today)

    response = staff_client.get(reverse("servicelevels:my_tasks"), {"segment": "B"}, **HTMX)

    assert [t.name for t in response.templates][0] == "servicelevels/partials/worklist.html"
    assert b"<nav" not in response.content


def test_owner_sees_everyones_tasks_on_request(owner_client, owner, staff, today):
    mine = CareTaskFactory(assignee=owner, due_date=today)
    theirs = CareTaskFactory(assignee=staff, due_date=today)
    url = reverse("servicelevels:my_tasks")

    def shown(**params):
        worklist = owner_client.get(url, params).context["worklist"]
        return {t.pk for rows in worklist.sections.values() for t in rows}

    assert shown() == {mine.pk}
    assert shown(assignee="all") == {mine.pk, theirs.pk}
    assert shown(assignee=str(staff.pk)) == {theirs.pk}


def _worklist_queries(client, count, staff, today):
    CareTask.objects.all().delete()
    activities = [CareActivityFactory(service_level=level(s)) for s in "ABCO"]
    for i in range(count):
        CareTaskFactory(
            assignee=staff,
            activity=activities[i % 4],
            customer__segment=activities[i % 4].service_level.segment,
            due_date=today - dt.timedelta(days=i % 3),
        )
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("servicelevels:my_tasks"))
    assert response.status_code == 200
    assert response.context["worklist"].total == count
    return len(ctx.captured_queries)


def test_worklist_query_count_is_constant(staff_client, staff, today):
    assert _worklist_queries(staff_client, 10, staff, today) == _worklist_queries(
        staff_client, 200, staff, today
    )


def test_owner_worklist_query_count_is_constant(owner_client, owner, today):
    assert _worklist_queries(owner_client, 10, owner, today) == _worklist_queries(
        owner_client, 200, owner, today
    )


# -- closing tasks ----------------------------------------------------------------------------


def close(client, task, action="done", outcome="", htmx=True):
    url = reverse("servicelevels:task_close", kwargs={"pk": task.pk})
    return client.post(url, {"action": action, "outcome": outcome}, **(HTMX if htmx else {}))


def test_complete_inline_with_htmx(staff_client, staff):
    staff.language = "en"
    staff.save()
    task = CareTaskFactory(assignee=staff, activity__name="Jahresbrief")

    response = close(staff_client, task, outcome="Brief versandt")

    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="task-{task.pk}"')
    assert 'data-status="done"' in body
    assert "Task completed." in body
    activity = Activity.objects.get(customer=task.customer)
    assert (activity.subject, activity.notes, activity.user) == ("Jahresbrief", "Brief versandt", staff)


def test_the_second_click_does_nothing_harmful(staff_client, staff):
    staff.language = "en"
    staff.save()
    task = CareTaskFactory(assignee=staff)
    close(staff_client, task, outcome="erste")

    response = close(staff_client, task, outcome="zweite")

    assert "already completed" in response.content.decode()
    assert Activity.objects.count() == 1
    task.refresh_from_db()
    assert task.outcome == "erste"


def test_completing_a_cancelled_task_shows_a_clear_message(staff_client, staff):
    staff.language = "en"
    staff.save()
    task = CareTaskFactory(assignee=staff, status="cancelled", closed_at=timezone.now())

    response = close(staff_client, task, outcome="Notiz")

    body = response.content.decode()
    assert "task-error" in body
    assert "cancelled by a reclassification" in body
    assert not Activity.objects.exists()
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("cancelled", "")


def test_skip_without_a_reason_keeps_the_task_open(staff_client, staff):
    task = CareTaskFactory(assignee=staff)

    response = close(staff_client, task, action="skip", outcome="")

    assert "task-error" in response.content.decode()
    task.refresh_from_db()
    assert task.status == "open"
    close(staff_client, task, action="skip", outcome="nicht erreichbar")
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("skipped", "nicht erreichbar")


def test_plain_post_fallback_redirects_with_a_message(staff_client, staff):
    task = CareTaskFactory(assignee=staff)
    url = reverse("servicelevels:task_close", kwargs={"pk": task.pk})
    back = reverse("servicelevels:my_tasks") + "?segment=B"

    response = staff_client.post(url, {"action": "done", "outcome": "ok", "next": back})

    assert response.status_code == 302
    assert response["Location"] == back
    task.refresh_from_db()
    assert task.status == "done"
    response = staff_client.post(url, {"action": "done", "next": "https://evil.example/"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("servicelevels:my_tasks")
    assert [m.level_tag for m in response.context["messages"]][-1] == "error"


def test_unknown_action_or_task(staff_client, staff):
    task = CareTaskFactory(assignee=staff)

    assert "task-error" in close(staff_client, task, action="delete").content.decode()
    url = reverse("servicelevels:task_close", kwargs={"pk": 999999})
    assert staff_client.post(url, {"action": "done"}, **HTMX).status_code == 404
    task.refresh_from_db()
    assert task.status == "open"


def test_closing_needs_the_change_permission(client, staff):
    task = CareTaskFactory(assignee=staff)
    client.force_login(UserFactory())

    assert close(client, task).status_code == 403


# -- customer fragment ------------------------------------------------------------------------


def test_customer_tasks_fragment_and_page(staff_client, staff):
    customer = CustomerFactory(segment="B")
    open_task = CareTaskFactory(customer=customer, assignee=staff)
    done = CareTaskFactory(customer=customer, status="done", outcome="erledigt", closed_at=timezone.now())
    CareTaskFactory()  # another customer's
    url = reverse("servicelevels:customer_tasks", kwargs={"pk": customer.pk})

    fragment = staff_client.get(url, **HTMX)
    page = staff_client.get(url)

    assert fragment.status_code == page.status_code == 200
    assert b"<nav" not in fragment.content
    assert b"<nav" in page.content
    assert [t.pk for t in fragment.context["tasks"]["open"]] == [open_task.pk]
    assert [t.pk for t in fragment.context["tasks"]["closed"]] == [done.pk]
    assert staff_client.get(reverse("servicelevels:customer_tasks", kwargs={"pk": 999999})).status_code == 404


# -- catalogue --------------------------------------------------------------------------------


def test_catalogue_shows_every_class_with_its_costs(owner_client):
    response = owner_client.get(reverse("servicelevels:catalogue"))

    body = response.content.decode()
    for segment in "ABCO":
        assert f'id="level-{segment}"' in body
        assert f'id="ratio-{segment}"' in body
    assert [c.segment for c in response.context["classes"]] == ["A", "B", "C", "O"]


def test_editing_minutes_with_htmx_updates_the_figures(owner_client, empty_catalogue, cost_settings):
    activity = CareActivityFactory(minutes=60, performer=Performer.OWNER)  # 150 € a year
    CustomerFactory(segment="B", revenue=Decimal("1000"))
    url = reverse("servicelevels:activity_minutes", kwargs={"pk": activity.pk})

    response = owner_client.post(url, {"minutes": "30"}, **HTMX)

    assert response.status_code == 200
    assert response.context["cc"].total_cost == Decimal("75.00")
    assert response.context["cc"].ratio == Decimal("7.5")
    assert 'id="level-B"' in response.content.decode()
    activity.refresh_from_db()
    assert activity.minutes == 30


@pytest.mark.parametrize("minutes", ["0", "-10", "", "abc"])
def test_bad_minutes_are_shown_at_the_field_and_not_saved(owner_client, owner, empty_catalogue, minutes):
    owner.language = "en"
    owner.save()
    activity = CareActivityFactory(minutes=20)
    url = reverse("servicelevels:activity_minutes", kwargs={"pk": activity.pk})

    htmx = owner_client.post(url, {"minutes": minutes}, **HTMX)
    plain = owner_client.post(url, {"minutes": minutes})

    for response in (htmx, plain):
        assert response.status_code == 200
        assert f'id="minutes-error-{activity.pk}"' in response.content.decode()
    if minutes in ("0", "-10"):
        assert "Minutes must be more than 0." in htmx.content.decode()
    activity.refresh_from_db()
    assert activity.minutes == 20


def test_plain_minutes_edit_redirects_to_the_class(owner_client, empty_catalogue):
    activity = CareActivityFactory(minutes=20)

    response = owner_client.post(
        reverse("servicelevels:activity_minutes", kwargs={"pk": activity.pk}), {"minutes": 25}
    )

    assert response.status_code == 302
    assert response["Location"].endswith("#level-B")
    activity.refresh_from_db()
    assert activity.minutes == 25


def _activity_data(**overrides):
    data = {
        "service_level": level("O").pk,
        "name": "Rückruf",
        "track": Track.POTENTIAL,
        "recurrence": Recurrence.EVERY_N_MONTHS,
        "interval_months": "3",
        "weeks_before": "",
        "days_after": "0",
        "min_gap_value": "0",
        "channel": "phone",
        "marketing": "on",
        "minutes": "15",
        "performer": Performer.STAFF,
        "instruction": "",
        "active": "on",
        "position": "0",
    }
    data.update(overrides)
    return data


def test_owner_adds_an_activity(owner_client, empty_catalogue):
    response = owner_client.post(reverse("servicelevels:activity_create"), _activity_data())

    assert response.status_code == 302
    activity = CareActivity.objects.get()
    assert (activity.service_level.segment, activity.interval_months, activity.minutes) == ("O", 3, 15)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"minutes": "0"}, "minutes", "Minutes must be more than 0."),
        ({"minutes": "-5"}, "minutes", "Minutes must be more than 0."),
        ({"interval_months": "0"}, "interval_months", "every 0 months"),
        ({"interval_months": ""}, "interval_months", "at least 1"),
        ({"service_level": ""}, "service_level", "Choose the class"),
        ({"recurrence": Recurrence.BEFORE_MAIN_DUE, "weeks_before": ""}, "weeks_before", "weeks before"),
        ({"min_gap_value": "-1"}, "min_gap_value", ""),
    ],
)
def test_bad_activities_get_a_message_at_the_field(
    owner_client, owner, empty_catalogue, overrides, field, message
):
    owner.language = "en"
    owner.save()

    response = owner_client.post(reverse("servicelevels:activity_create"), _activity_data(**overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert not CareActivity.objects.exists()


def test_owner_edits_an_activity_and_a_level(owner_client, empty_catalogue):
    activity = CareActivityFactory(minutes=20)
    url = reverse("servicelevels:activity_update", kwargs={"pk": activity.pk})
    data = _activity_data(
        service_level=activity.service_level_id, minutes="35", recurrence=Recurrence.BIRTHDAY
    )

    assert owner_client.post(url, data).status_code == 302
    activity.refresh_from_db()
    assert (activity.minutes, activity.recurrence) == (35, Recurrence.BIRTHDAY)

    level_url = reverse("servicelevels:level_update", kwargs={"pk": level("C").pk})
    response = owner_client.post(level_url, {"name": "Basis", "description": "Service auf Anfrage"})
    assert response.status_code == 302
    assert level("C").name == "Basis"


def test_cost_settings_reject_negative_rates(owner_client, owner):
    owner.language = "en"
    owner.save()
    url = reverse("servicelevels:cost_settings")
    data = {
        "owner_hourly_rate": "-1",
        "staff_hourly_rate": "45",
        "max_cost_share": "25",
        "assumed_years_in_class": "3",
    }

    response = owner_client.post(url, data)

    assert response.status_code == 200
    assert "below 0" in " ".join(response.context["form"].errors["owner_hourly_rate"])
    assert CostSettings.load().owner_hourly_rate == Decimal("150")

    response = owner_client.post(url, {**data, "owner_hourly_rate": "120.50"})  # English input
    assert response.status_code == 302
    assert CostSettings.load().owner_hourly_rate == Decimal("120.50")


# -- workload ---------------------------------------------------------------------------------


def test_workload_shows_planned_minutes_against_capacity(owner_client, owner, staff, today):
    this_week = today - dt.timedelta(days=today.weekday())
    heavy = CareActivityFactory(minutes=90)
    CareTaskFactory(assignee=staff, activity=heavy, due_date=today)
    CareTaskFactory(assignee=staff, activity=heavy, due_date=this_week + dt.timedelta(days=8))
    CareTaskFactory(assignee=staff, activity=heavy, due_date=today - dt.timedelta(days=1))
    WeeklyCapacity.objects.create(user=staff, minutes_per_week=60)

    response = owner_client.get(reverse("servicelevels:workload"))

    rows = {row.user: row for row in response.context["workload"].rows}
    assert rows[staff].overdue == 90
    assert rows[staff].weeks[:2] == [90, 90]
    assert rows[staff].cells[0] == (90, True)
    assert rows[owner].weeks[0] == 0


def test_owner_sets_a_capacity(owner_client, staff):
    url = reverse("servicelevels:capacity_update", kwargs={"user_pk": staff.pk})

    assert owner_client.post(url, {"minutes_per_week": "600"}).status_code == 302
    assert WeeklyCapacity.objects.get(user=staff).minutes_per_week == 600
    owner_client.post(url, {"minutes_per_week": "-1"})
    assert WeeklyCapacity.objects.get(user=staff).minutes_per_week == 600


# -- query counts of the other list pages ------------------------------------------------------


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_customer_tasks_query_count_is_constant(staff_client, staff):
    customer = CustomerFactory(segment="B")
    url = reverse("servicelevels:customer_tasks", kwargs={"pk": customer.pk})
    CareTaskFactory.create_batch(5, customer=customer, assignee=staff)
    CareTaskFactory.create_batch(
        5, customer=customer, status="done", closed_at=timezone.now(), closed_by=staff
    )
    few = _queries(staff_client, url)
    CareTaskFactory.create_batch(95, customer=customer, assignee=staff)
    CareTaskFactory.create_batch(
        95, customer=customer, status="skipped", closed_at=timezone.now(), closed_by=staff
    )

    assert _queries(staff_client, url) == few


def test_workload_query_count_is_constant(owner_client, staff, today):
    url = reverse("servicelevels:workload")
    CareTaskFactory.create_batch(10, assignee=staff, due_date=today)
    few = _queries(owner_client, url)
    for _ in range(5):
        StaffFactory()
    CareTaskFactory.create_batch(190, assignee=staff, due_date=today + dt.timedelta(days=9))

    assert _queries(owner_client, url) == few


def test_catalogue_query_count_is_constant(owner_client):
    url = reverse("servicelevels:catalogue")
    CustomerFactory.create_batch(10, segment="O")
    few = _queries(owner_client, url)
    CustomerFactory.create_batch(190, segment="A")

    assert _queries(owner_client, url) == few


def test_worklist_and_workload_leave_out_restricted_customers(client, owner, staff, today):
    kept = CareTaskFactory(assignee=staff, due_date=today, customer__segment="B")
    restricted = CareTaskFactory(assignee=staff, due_date=today, customer__segment="B")
    restricted.customer.restricted_at = today
    restricted.customer.save()

    client.force_login(staff)
    worklist = client.get(reverse("servicelevels:my_tasks")).context["worklist"]
    client.force_login(owner)
    everyone = client.get(reverse("servicelevels:my_tasks"), {"assignee": "all"}).context["worklist"]
    workload = client.get(reverse("servicelevels:workload")).context["workload"]

    assert [t.pk for rows in worklist.sections.values() for t in rows] == [kept.pk]
    assert worklist.counts["today"] == 1
    assert [t.pk for rows in everyone.sections.values() for t in rows] == [kept.pk]
    [row] = [r for r in workload.rows if r.user == staff]
    assert sum(row.weeks) == kept.activity.minutes
