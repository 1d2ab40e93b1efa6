"""Bad input at the services (the forms' field messages are tested in test_views.py): every case
of the issue is refused with a message at the field, and nothing is saved."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from segmentation import services
from segmentation.models import (
    ClassChange,
    ClassOverride,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
)
from tests.factories import CustomerFactory, line

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 6, 30)


def policy_data(**overrides):
    data = {
        "revenue_method": "absolute",
        "revenue_value": Decimal("400"),
        "potential_method": "absolute",
        "potential_value": Decimal("300"),
        "hysteresis_percent": Decimal("10"),
        "revenue_window_months": 12,
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"revenue_value": Decimal("-1")}, "revenue_value", "A threshold cannot be negative."),
        ({"potential_value": Decimal("-0.01")}, "potential_value", "A threshold cannot be negative."),
        (
            {"revenue_method": "quantile", "revenue_value": Decimal("0")},
            "revenue_value",
            "A top quantile must be more than 0 and less than 100 %.",
        ),
        (
            {"potential_method": "quantile", "potential_value": Decimal("100")},
            "potential_value",
            "A top quantile must be more than 0 and less than 100 %.",
        ),
        (
            {"revenue_method": "pareto", "revenue_value": Decimal("0")},
            "revenue_value",
            "A Pareto share must be more than 0 and at most 100 %.",
        ),
        (
            {"potential_method": "pareto", "potential_value": Decimal("100.01")},
            "potential_value",
            "A Pareto share must be more than 0 and at most 100 %.",
        ),
    ],
)
def test_policy_service_refuses_bad_thresholds_at_the_field(settings, owner, overrides, field, message):
    settings.LANGUAGE_CODE = "en"
    before = list(SegmentationPolicy.objects.values_list("version", "is_active"))

    with pytest.raises(ValidationError) as excinfo:
        services.policy_publish(data=policy_data(**overrides), by=owner)

    assert excinfo.value.message_dict == {field: [message]}
    assert list(SegmentationPolicy.objects.values_list("version", "is_active")) == before


def test_policy_service_publishes_the_edges_of_the_ranges(owner):
    policy = services.policy_publish(
        data=policy_data(
            revenue_method="quantile",
            revenue_value=Decimal("99.99"),
            potential_method="pareto",
            potential_value=Decimal("100"),
        ),
        by=owner,
    )
    assert SegmentationPolicy.objects.get(is_active=True) == policy


def test_rule_service_refuses_min_age_above_max_age_at_the_field(settings):
    settings.LANGUAGE_CODE = "en"
    count = RecommendationRule.objects.count()
    rule = RecommendationRule(
        name="BU 60-54", line_of_business=line("BU"), min_age=60, max_age=54, expected_commission=900
    )

    with pytest.raises(ValidationError) as excinfo:
        services.recommendation_rule_save(rule=rule)

    assert excinfo.value.message_dict == {"max_age": ["The maximum age must not be below the minimum age."]}
    assert RecommendationRule.objects.count() == count


def test_rule_service_accepts_equal_ages():
    rule = RecommendationRule(
        name="BU 54", line_of_business=line("BU"), min_age=54, max_age=54, expected_commission=900
    )
    assert services.recommendation_rule_save(rule=rule).pk is not None


def test_third_party_service_refuses_a_negative_commission_at_the_field(settings, staff):
    settings.LANGUAGE_CODE = "en"
    customer = CustomerFactory()

    with pytest.raises(ValidationError) as excinfo:
        services.third_party_contract_create(
            customer=customer,
            data={"line_of_business": line("140"), "expected_commission": Decimal("-1.00")},
            by=staff,
        )

    assert list(excinfo.value.message_dict) == ["expected_commission"]
    assert not ThirdPartyContract.objects.exists()


@pytest.mark.parametrize(
    ("reason", "expires_on", "field", "message"),
    [
        ("", TODAY + dt.timedelta(days=1), "reason", "An override needs a reason."),
        ("   ", TODAY + dt.timedelta(days=1), "reason", "An override needs a reason."),
        ("Key account", TODAY - dt.timedelta(days=1), "expires_on", "The expiry must not lie in the past."),
        ("Key account", None, "expires_on", "An override needs an expiry date."),
    ],
)
def test_override_service_refuses_a_missing_reason_or_a_past_expiry(
    settings, owner, reason, expires_on, field, message
):
    settings.LANGUAGE_CODE = "en"
    customer = CustomerFactory()

    with pytest.raises(ValidationError) as excinfo:
        services.class_override_set(
            customer=customer, segment="A", reason=reason, expires_on=expires_on, by=owner, today=TODAY
        )

    assert excinfo.value.message_dict == {field: [message]}
    customer.refresh_from_db()
    assert customer.segment == ""
    assert not ClassOverride.objects.exists() and not ClassChange.objects.exists()
