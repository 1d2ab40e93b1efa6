"""Database constraints back the rules the forms check, and the seeded defaults."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from segmentation.models import (
    ClassChange,
    ClassOverride,
    PotentialAdjustment,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
    threshold_bands,
)
from tests.factories import CustomerFactory, line

pytestmark = pytest.mark.django_db


def policy(**fields):
    values = {
        "version": 99,
        "revenue_method": "absolute",
        "revenue_value": Decimal("400"),
        "potential_method": "absolute",
        "potential_value": Decimal("300"),
    }
    values.update(fields)
    return SegmentationPolicy(**values)


@pytest.mark.parametrize(
    "fields",
    [
        {"revenue_value": Decimal("-1")},
        {"revenue_method": "quantile", "revenue_value": Decimal("0")},
        {"revenue_method": "quantile", "revenue_value": Decimal("100")},
        {"potential_method": "pareto", "potential_value": Decimal("0")},
        {"potential_method": "pareto", "potential_value": Decimal("100.01")},
        {"hysteresis_percent": Decimal("100")},
        {"revenue_window_months": 0},
        {"is_active": True},  # a second active version
    ],
)
def test_policy_constraints(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        policy(**fields).save()


def test_pareto_100_and_quantile_99_99_are_valid():
    policy(potential_method="pareto", potential_value=Decimal("100"), revenue_method="quantile",
           revenue_value=Decimal("99.99")).save()  # fmt: skip


def test_seeded_defaults():
    active = SegmentationPolicy.objects.get(is_active=True)
    assert (active.version, active.revenue_method, active.revenue_value, active.hysteresis_percent) == (
        1,
        "absolute",
        Decimal("400.00"),
        Decimal("10.00"),
    )
    bu = RecommendationRule.objects.get(line_of_business__code="BU")
    assert (bu.min_age, bu.max_age, sorted(bu.occupations)) == (18, 54, ["employed", "self_employed"])
    assert RecommendationRule.objects.get(line_of_business__code="051").per_car
    assert RecommendationRule.objects.get(line_of_business__code="042").customer_kind == "company"


def test_rule_constraints():
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationRule.objects.create(
            name="x", line_of_business=line("BU"), min_age=60, max_age=50, expected_commission=1
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationRule.objects.create(name="x", line_of_business=line("BU"), expected_commission=-1)


def test_third_party_commission_not_negative():
    with pytest.raises(IntegrityError), transaction.atomic():
        ThirdPartyContract.objects.create(
            customer=CustomerFactory(), line_of_business=line("130"), expected_commission=-1
        )


def test_override_constraints():
    customer = CustomerFactory()
    day = dt.date(2026, 1, 1)
    for fields in (
        {"reason": ""},
        {"expires_on": day - dt.timedelta(days=1)},
        {"segment": "X"},
    ):
        values = {
            "customer": customer,
            "segment": "A",
            "reason": "r",
            "starts_on": day,
            "expires_on": day,
            **fields,
        }
        with pytest.raises(IntegrityError), transaction.atomic():
            ClassOverride.objects.create(**values)
    ClassOverride.objects.create(customer=customer, segment="A", reason="r", starts_on=day, expires_on=day)
    with pytest.raises(IntegrityError), transaction.atomic():  # one open override per customer
        ClassOverride.objects.create(
            customer=customer, segment="B", reason="r", starts_on=day, expires_on=day
        )


def test_adjustment_needs_reason():
    with pytest.raises(IntegrityError), transaction.atomic():
        PotentialAdjustment.objects.create(
            customer=CustomerFactory(), event="other", reason="", amount=1, valid_from=dt.date(2026, 1, 1),
            expires_on=dt.date(2026, 2, 1),
        )  # fmt: skip


def test_one_history_row_per_customer_and_day():
    customer = CustomerFactory()
    fields = {"customer": customer, "date": dt.date(2026, 1, 1), "old_class": "", "new_class": "A", "revenue": 0,
              "potential": 0, "policy": SegmentationPolicy.objects.get(is_active=True), "source": "computed",
              "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}  # fmt: skip
    ClassChange.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        ClassChange.objects.create(**fields)


def test_threshold_bands_round_up_to_the_cent():
    assert threshold_bands(Decimal("333.33"), Decimal("7.5")) == {
        "base": Decimal("333.33"),
        "stay": Decimal("308.34"),  # 308.33025 -> up
        "enter": Decimal("358.33"),  # 358.32975 -> up
    }


def test_deleting_a_customer_removes_its_components_and_history():
    from segmentation import services

    customer = CustomerFactory()
    services.reclassification_run(as_of=dt.date(2026, 6, 30))
    assert customer.potential_components.exists() and customer.class_changes.exists()

    customer.delete()

    from segmentation.models import PotentialComponent

    assert not PotentialComponent.objects.exists() and not ClassChange.objects.exists()
