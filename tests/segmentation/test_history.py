"""The audit trail of the segmentation settings: policy versions, recommendation rules and
class overrides record who changed what and when, shown on the policy page and on the
customer page; the nightly job writes no audit rows."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from segmentation import services
from segmentation.history import policy_history
from segmentation.models import ClassOverride, RecommendationRule, SegmentationPolicy
from tests.factories import CustomerFactory, line
from tests.segmentation.factories import customer_with_revenue, only_rules

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
TODAY = timezone.localdate()
TOMORROW = TODAY + dt.timedelta(days=1)


def policy_data(**overrides):
    data = {
        "revenue_method": "absolute",
        "revenue_value": "400",
        "potential_method": "absolute",
        "potential_value": "300",
        "hysteresis_percent": "10",
        "revenue_window_months": "12",
        "note": "",
    }
    return {**data, **overrides}


def rule_data(**overrides):
    data = {
        "name": "BU Angestellte",
        "line_of_business": line("041").pk,
        "customer_kind": "person",
        "scope": "customer",
        "expected_commission": "120.00",
        "is_active": "on",
        "note": "",
        "homeowner": "unknown",
        "car_owner": "unknown",
        "has_children": "unknown",
    }
    return {**data, **overrides}


def changes(entry) -> dict[str, tuple[str, str]]:
    return {c.field: (c.old, c.new) for c in entry.changes}


def test_publishing_a_policy_is_shown_on_the_policy_page_with_old_and_new_values(
    owner_client, owner, english
):
    before = SegmentationPolicy.objects.get(is_active=True)
    owner_client.post(reverse("segmentation:policy"), policy_data(revenue_value="400", potential_value="300"))

    response = owner_client.post(
        reverse("segmentation:policy"),
        policy_data(revenue_method="quantile", revenue_value="20", note="Top 20 %"),
    )
    assert response.status_code == 302

    page = owner_client.get(reverse("segmentation:policy"))
    [newest, previous, *_rest] = page.context["history"]
    new = SegmentationPolicy.objects.get(is_active=True)
    assert newest.subject == f"segmentation policy v{new.version}"
    assert (newest.user, newest.action, newest.reason) == (owner, "+", "Top 20 %")
    assert changes(newest) == {
        "revenue_method": ("absolute amount (€/year)", "top quantile (top x % of customers)"),
        "revenue_value": ("400.00\xa0€", "20.00\xa0€"),
    }
    assert previous.subject == f"segmentation policy v{before.version + 1}"
    html = page.content.decode()
    assert 'id="policy-history"' in html
    assert "Top 20 %" in html and "top quantile (top x % of customers)" in html


def test_an_unchanged_republish_records_the_version_without_field_changes(owner, english):
    active = SegmentationPolicy.objects.get(is_active=True)
    data = {
        name: getattr(active, name)
        for name in ("revenue_method", "revenue_value", "potential_method", "potential_value",
                     "hysteresis_percent", "revenue_window_months")
    }  # fmt: skip
    services.policy_publish(data={**data, "note": ""}, by=owner)

    [entry, *_rest] = policy_history()
    assert (entry.action, entry.user, entry.changes) == ("+", owner, [])


def test_rule_edits_through_the_pages_record_who_and_what(owner_client, owner, english):
    owner_client.post(reverse("segmentation:rule_create"), rule_data(name="BU neu"))
    rule = RecommendationRule.objects.get(name="BU neu")

    response = owner_client.post(
        reverse("segmentation:rule_update", args=[rule.pk]),
        rule_data(name="BU neu", expected_commission="95.50", min_age="18"),
    )
    assert response.status_code == 302

    entries = [e for e in policy_history() if e.subject == "recommendation rule: BU neu"]
    assert [(e.action, e.user) for e in entries] == [("~", owner), ("+", owner)]
    assert changes(entries[0]) == {
        "expected_commission": ("120.00\xa0€", "95.50\xa0€"),
        "min_age": ("–", "18"),
    }


def test_rule_service_records_the_given_user(owner, staff):
    rule = RecommendationRule(name="Hausrat", line_of_business=line("130"), expected_commission=Decimal("10"))
    services.recommendation_rule_save(rule=rule, by=staff)
    assert RecommendationRule.history.get(id=rule.pk).history_user == staff


def test_overrides_appear_in_the_customer_pages_history(owner_client, owner, english):
    only_rules()
    customer = customer_with_revenue("50.00")
    services.reclassification_run(as_of=TODAY - dt.timedelta(days=1))
    owner_client.post(
        reverse("segmentation:override_set", kwargs={"pk": customer.pk}),
        {"ovr-segment": "A", "ovr-reason": "Key account", "ovr-expires_on": TOMORROW.isoformat()},
        **HTMX,
    )
    override = ClassOverride.objects.get(customer=customer)
    owner_client.post(reverse("segmentation:override_end", kwargs={"pk": override.pk}), **HTMX)

    response = owner_client.get(reverse("customers:history_panel", args=[customer.pk]), **HTMX)
    entries = [e for e in response.context["entries"] if e.subject.startswith("class override")]
    with translation.override("en"):
        today = formats.date_format(TODAY, "SHORT_DATE_FORMAT")
    label = f"class override A ({today})"
    assert [(e.subject, e.action, e.user) for e in entries] == [(label, "~", owner), (label, "+", owner)]
    assert changes(entries[0]) == {"ended_on": ("–", today)}
    assert f"Class override A ({today})" in response.content.decode()


def test_the_nightly_job_writes_no_audit_rows(owner):
    only_rules()
    customers = [customer_with_revenue("50.00") for _ in range(3)]
    for customer in customers:
        services.class_override_set(
            customer=customer, segment="A", reason="Test", expires_on=TOMORROW, by=owner, today=TODAY
        )
    rows = (
        ClassOverride.history.count(),
        SegmentationPolicy.history.count(),
        RecommendationRule.history.count(),
    )

    services.reclassification_run(as_of=TODAY)  # records the computed class on every override
    services.reclassification_run(as_of=TOMORROW + dt.timedelta(days=1))  # ends the expired ones

    assert ClassOverride.objects.filter(ended_on__isnull=False).count() == 3
    assert (
        ClassOverride.history.count(),
        SegmentationPolicy.history.count(),
        RecommendationRule.history.count(),
    ) == rows


def test_history_of_other_customers_overrides_is_not_shown(owner_client, owner):
    mine, other = CustomerFactory(), CustomerFactory()
    services.class_override_set(customer=other, segment="A", reason="X", expires_on=TOMORROW, by=owner)
    response = owner_client.get(reverse("customers:history_panel", args=[mine.pk]), **HTMX)
    assert not [e for e in response.context["entries"] if e.key.startswith("historicalclassoverride")]


def test_policy_history_is_owner_only(staff_client):
    assert staff_client.get(reverse("segmentation:policy")).status_code == 403


def test_the_first_version_published_is_compared_with_the_seeded_one(owner_client, owner, english):
    """The seeded policy got its first audit row with the audit migration."""
    seeded = SegmentationPolicy.objects.get(is_active=True)
    owner_client.post(
        reverse("segmentation:policy"),
        policy_data(
            revenue_method=seeded.revenue_method,
            revenue_value=str(seeded.revenue_value + 1),
            potential_method=seeded.potential_method,
            potential_value=str(seeded.potential_value),
            hysteresis_percent=str(seeded.hysteresis_percent),
            revenue_window_months=str(seeded.revenue_window_months),
        ),
    )
    [newest, baseline] = [e for e in policy_history() if e.subject.startswith("segmentation policy")]
    assert list(changes(newest)) == ["revenue_value"]
    assert (baseline.subject, baseline.action, baseline.user) == (
        f"segmentation policy v{seeded.version}",
        "+",
        None,
    )
