"""Property-based tests (hypothesis): the segmentation policy, recommendation rule and class
override forms fed arbitrary input never fail with a server error. Every POST either shows the
form again with a message (and saves nothing), or saves what the form accepted — the same
values come back from the database, and the edit page, submitted again, saves the same values.
Same style and helpers as tests/customers/test_property_forms.py."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import event, given
from hypothesis import strategies as st

from customers import gdv
from customers.models import Customer
from segmentation.forms import ClassOverrideForm, PolicyForm, RecommendationRuleForm
from segmentation.models import ClassOverride, RecommendationRule, SegmentationPolicy, ThresholdMethod
from tests.customers.test_property_forms import (
    EXAMPLES,
    FormFields,
    clean_text,
    corrupted,
    form_as_submitted,
    garbage,
    german_date,
    german_money,
)
from tests.factories import CustomerFactory, OwnerFactory, line

pytestmark = pytest.mark.django_db
POLICY_COMPARED = [
    "revenue_method", "revenue_value", "potential_method", "potential_value", "hysteresis_percent",
    "revenue_window_months", "note",
]  # fmt: skip


@pytest.fixture
def user(client):
    owner = OwnerFactory(username="inhaber-hypothesis", language="de")
    client.force_login(owner)
    return owner


def number(lo: int, hi: int):
    """Numbers as people type them: 12 · 12,5 · 1.234,56 (German) · 12.5."""
    return st.one_of(
        st.integers(lo, hi).map(str),
        german_money(lo, hi),
        st.decimals(lo, hi, places=2, allow_nan=False, allow_infinity=False).map(str),
    )


def active_policy() -> dict:
    policy = SegmentationPolicy.objects.get(is_active=True)
    return {name: getattr(policy, name) for name in POLICY_COMPARED}


# --- the policy -------------------------------------------------------------------------------


def policy_strategy():
    valid = {
        "revenue_method": st.sampled_from(ThresholdMethod.values),
        "revenue_value": number(0, 10**6),
        "potential_method": st.sampled_from(ThresholdMethod.values),
        "potential_value": number(0, 10**6),
        "hysteresis_percent": number(0, 99),
        "revenue_window_months": st.integers(1, 120).map(str),
        "note": clean_text,
    }

    def percentages(post: dict) -> None:
        for prefix in ("revenue", "potential"):
            if post[f"{prefix}_method"] != ThresholdMethod.ABSOLUTE:
                post[f"{prefix}_value"] = str(
                    int(float(post[f"{prefix}_value"].replace(".", "").replace(",", ".")) % 99) + 1
                )

    return corrupted(valid, list(valid), percentages)


@given(data=st.data())
@EXAMPLES
def test_policy_page_takes_any_input(client, user, data):
    post = data.draw(policy_strategy())
    before = (SegmentationPolicy.objects.count(), active_policy())
    with translation.override(user.language):
        form = PolicyForm(data=post)
        accepted = form.is_valid()

    preview = client.post(reverse("segmentation:policy_preview"), post, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200
    response = client.post(reverse("segmentation:policy"), post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert (SegmentationPolicy.objects.count(), active_policy()) == before
        return
    assert response.status_code == 302
    assert accepted, form.errors
    assert SegmentationPolicy.objects.count() == before[0] + 1
    assert active_policy() == form.policy_data

    # The page shows the active values such that saving them again publishes the same values.
    url = reverse("segmentation:policy")
    saved = active_policy()
    again = client.post(url, {**form_as_submitted(client, url, "policy-form"), "note": saved["note"]})
    assert again.status_code == 302, again.context["form"].errors
    assert active_policy() == saved


# --- recommendation rules ---------------------------------------------------------------------

RULE_FIELDS = [
    "name", "line_of_business", "customer_kind", "min_age", "max_age", "homeowner", "car_owner",
    "has_children", "occupations", "marital_statuses", "scope", "per_car", "expected_commission",
    "is_active", "note",
]  # fmt: skip
NULL_BOOLEAN = st.sampled_from(["unknown", "true", "false"])


def rule_strategy(line_pks: list[int]):
    occupations = [v for v, _ in Customer.Occupation.choices if v]
    statuses = [v for v, _ in gdv.MARITAL_STATUSES]
    valid = {
        "name": clean_text.filter(lambda s: s.strip()).map(lambda s: s[:120]),
        "line_of_business": st.sampled_from([str(pk) for pk in line_pks]),
        "customer_kind": st.sampled_from(RecommendationRule.Kind.values),
        "min_age": st.one_of(st.just(""), st.integers(0, 120).map(str)),
        "max_age": st.one_of(st.just(""), st.integers(0, 120).map(str)),
        "homeowner": NULL_BOOLEAN,
        "car_owner": NULL_BOOLEAN,
        "has_children": NULL_BOOLEAN,
        "occupations": st.lists(st.sampled_from(occupations), unique=True, max_size=3),
        "marital_statuses": st.lists(st.sampled_from(statuses), unique=True, max_size=3),
        "scope": st.sampled_from(RecommendationRule.Scope.values),
        "per_car": st.sampled_from(["", "on"]),
        "expected_commission": number(0, 10**5),
        "is_active": st.sampled_from(["", "on"]),
        "note": clean_text,
    }
    return corrupted(valid, RULE_FIELDS)


class MultiFormFields(FormFields):
    """As a browser submits it, with every ticked box of a multiple choice (one name, many)."""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if self.inside and tag == "input" and a.get("type") == "checkbox" and name:
            if "checked" in a:
                self.data.setdefault(name, [])
                self.data[name].append(a.get("value", "on"))
            return
        super().handle_starttag(tag, attrs)


def rule_form_as_submitted(client, url: str) -> dict:
    response = client.get(url)
    assert response.status_code == 200
    parser = MultiFormFields("rule-form")
    parser.feed(response.content.decode())
    return parser.data


def rule_values(rule: RecommendationRule) -> dict:
    rule.refresh_from_db()
    return {f.attname: getattr(rule, f.attname) for f in rule._meta.concrete_fields}


@given(data=st.data())
@EXAMPLES
def test_rule_pages_take_any_input(client, user, data):
    post = data.draw(rule_strategy([line("041").pk, line("130").pk]))
    before = RecommendationRule.objects.count()
    with translation.override(user.language):
        form = RecommendationRuleForm(data=post)
        accepted = form.is_valid()

    response = client.post(reverse("segmentation:rule_create"), post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert RecommendationRule.objects.count() == before
        return
    assert response.status_code == 302
    assert accepted, form.errors
    rule = RecommendationRule.objects.latest("id")
    for name, value in form.cleaned_data.items():
        assert getattr(rule, name) == value, name
    assert client.get(reverse("segmentation:rule_list")).status_code == 200

    url = reverse("segmentation:rule_update", args=[rule.pk])
    saved = rule_values(rule)
    again = client.post(url, rule_form_as_submitted(client, url))
    assert again.status_code == 302, again.context["form"].errors
    assert rule_values(rule) == saved


@given(data=st.data())
@EXAMPLES
def test_rule_edit_takes_any_input(client, user, data):
    rule = RecommendationRule.objects.order_by("id").first()
    url = reverse("segmentation:rule_update", args=[rule.pk])
    post = {**rule_form_as_submitted(client, url), **data.draw(rule_strategy([line("041").pk]))}
    saved = rule_values(rule)
    with translation.override(user.language):
        form = RecommendationRuleForm(data=post, instance=RecommendationRule.objects.get(pk=rule.pk))
        accepted = form.is_valid()

    response = client.post(url, post)

    event(f"status {response.status_code}")
    if response.status_code == 200:
        assert response.context["form"].errors
        assert rule_values(rule) == saved
        return
    assert response.status_code == 302
    assert accepted, form.errors
    rule.refresh_from_db()
    for name, value in form.cleaned_data.items():
        assert getattr(rule, name) == value, name


# --- class overrides --------------------------------------------------------------------------


@given(data=st.data())
@EXAMPLES
def test_override_form_takes_any_input(client, user, data):
    today = timezone.localdate()
    customer = CustomerFactory(status=data.draw(st.sampled_from(["active", "active", "former"])))
    valid = {
        "ovr-segment": st.sampled_from(["A", "B", "C", "O"]),
        "ovr-reason": clean_text.filter(lambda s: s.strip()).map(lambda s: s[:300]),
        "ovr-expires_on": german_date(today - dt.timedelta(days=3), today + dt.timedelta(days=900)),
    }
    post = data.draw(corrupted(valid, list(valid)))
    with translation.override(user.language):
        form = ClassOverrideForm(data=post)
        accepted = form.is_valid()

    response = client.post(reverse("segmentation:override_set", kwargs={"pk": customer.pk}), post)

    event(f"status {response.status_code}")
    customer.refresh_from_db()
    if response.status_code == 200:
        assert response.context["ovr_form"].errors
        assert not ClassOverride.objects.filter(customer=customer).exists()
        assert customer.segment == ""
        return
    assert response.status_code == 302
    assert accepted, form.errors
    override = ClassOverride.objects.get(customer=customer, ended_on__isnull=True)
    assert (override.segment, override.reason, override.expires_on, override.starts_on) == (
        form.cleaned_data["segment"],
        form.cleaned_data["reason"],
        form.cleaned_data["expires_on"],
        today,
    )
    assert customer.segment == override.segment
    assert client.get(reverse("segmentation:customer_panel", kwargs={"pk": customer.pk})).status_code == 200


def test_garbage_strategy_is_shared():
    """The same arbitrary input as the customer forms (a guard against drifting copies)."""
    assert garbage is not None and EXAMPLES.max_examples == 50
