"""The cost model against a hand-computed example."""

from decimal import Decimal

import pytest

from segmentation.models import PotentialComponent
from servicelevels import selectors
from servicelevels.models import Channel, CostSettings, Performer, Recurrence, Track
from tests.factories import ContractFactory, CustomerFactory, line

from .factories import CareActivityFactory, level

pytestmark = pytest.mark.django_db


@pytest.fixture
def class_b(empty_catalogue):
    """Class B, by hand (owner 150 €/h, staff 45 €/h, 3 years in a class, healthy share 25 %):

    annual review, owner, 60 min, every 12 months: 1 × 1 h × 150      = 150.00
    birthday card, staff, 5 min, once a year:      1/12 h × 45          =   3.75
    contract check, staff, 10 min, per contract: 2.5 contracts × 1/6 h × 45 = 18.75
    welcome letter, owner, 10 min, on entry: 1/3 × 1/6 h × 150          =   8.333…
    → earned care 180.83
    offer per gap ≥ 100 €, staff, 30 min: 3 gaps / 2 customers × 0.5 h × 45 = 33.75
    → potential work 33.75; total 214.58 €
    average revenue (1000 + 600) / 2 = 800 → ratio 26.8 % > 25 % → flagged.
    """
    CostSettings.objects.update_or_create(
        pk=1,
        defaults={
            "owner_hourly_rate": Decimal("150"),
            "staff_hourly_rate": Decimal("45"),
            "assumed_years_in_class": Decimal("3"),
            "max_cost_share": Decimal("25"),
        },
    )
    make = CareActivityFactory
    review = make(
        recurrence=Recurrence.EVERY_N_MONTHS, interval_months=12, minutes=60, performer=Performer.OWNER
    )
    make(recurrence=Recurrence.BIRTHDAY, interval_months=None, minutes=5)
    make(
        recurrence=Recurrence.BEFORE_MAIN_DUE,
        interval_months=None,
        weeks_before=16,
        minutes=10,
        channel=Channel.PHONE,
    )
    make(recurrence=Recurrence.ON_ENTRY, interval_months=None, minutes=10, performer=Performer.OWNER)
    make(
        recurrence=Recurrence.PER_GAP,
        interval_months=None,
        minutes=30,
        track=Track.POTENTIAL,
        min_gap_value=100,
    )
    make(minutes=500, active=False)  # inactive: not counted
    make(service_level=level("C"), minutes=500)  # another class
    first = CustomerFactory(segment="B", revenue=Decimal("1000"))
    second = CustomerFactory(segment="B", revenue=Decimal("600"))
    CustomerFactory(segment="C", revenue=Decimal("5000"))
    CustomerFactory(segment="B", revenue=Decimal("9999"), status="former")  # not counted
    for _ in range(3):
        ContractFactory(customer=first)
    ContractFactory(customer=second)
    ContractFactory(customer=second)
    ContractFactory(customer=second, status="4")  # cancelled: not counted
    for i, (customer, code, value) in enumerate(
        [(first, "040", "150"), (first, "050", "100"), (second, "030", "200"), (second, "020", "99.99")]
    ):
        PotentialComponent.objects.create(
            customer=customer,
            kind="gap",
            source_id=i,
            line_of_business=line(code),
            value=Decimal(value),
            label="x",
        )
    return review


def test_cost_per_customer_and_ratio_by_hand(class_b):
    [cost] = selectors.cost_overview(segments=["B"])

    assert cost.stats.customers == 2
    assert cost.stats.average_revenue == Decimal("800")
    assert cost.stats.average_contracts == Decimal("2.5")
    assert cost.care_cost == Decimal("180.83")
    assert cost.potential_cost == Decimal("33.75")
    assert cost.total_cost == Decimal("214.58")
    assert cost.ratio == Decimal("26.8")
    assert cost.over_limit
    rows = {row.activity.recurrence: row for row in cost.activities if row.activity.active}
    assert rows[Recurrence.EVERY_N_MONTHS].cost_rounded == Decimal("150.00")
    assert rows[Recurrence.BIRTHDAY].cost_rounded == Decimal("3.75")
    assert rows[Recurrence.BEFORE_MAIN_DUE].occurrences_per_year == Decimal("2.5")
    assert rows[Recurrence.BEFORE_MAIN_DUE].cost_rounded == Decimal("18.75")
    assert rows[Recurrence.ON_ENTRY].cost_rounded == Decimal("8.33")
    assert rows[Recurrence.PER_GAP].occurrences_per_year == Decimal("1.5")
    assert rows[Recurrence.PER_GAP].cost_rounded == Decimal("33.75")


def test_fewer_minutes_bring_the_ratio_below_the_limit(class_b):
    class_b.minutes = 30
    class_b.save()

    [cost] = selectors.cost_overview(segments=["B"])

    assert cost.total_cost == Decimal("139.58")  # 75.00 + 3.75 + 18.75 + 8.33 + 33.75
    assert cost.ratio == Decimal("17.4")
    assert not cost.over_limit


def test_every_n_months_counts_twelve_by_n(empty_catalogue, cost_settings):
    CareActivityFactory(interval_months=6, minutes=60)
    CustomerFactory(segment="B", revenue=Decimal("100"))

    [cost] = selectors.cost_overview(segments=["B"])

    assert cost.activities[0].occurrences_per_year == 2
    assert cost.total_cost == Decimal("90.00")  # 2 × 1 h × 45


def test_a_class_without_customers_has_no_ratio(empty_catalogue, cost_settings):
    CareActivityFactory(service_level=level("A"))

    [cost] = selectors.cost_overview(segments=["A"])

    assert cost.stats.customers == 0
    assert cost.ratio is None
    assert not cost.over_limit


def test_the_default_catalogue_has_figures_for_every_class(db):
    classes = selectors.cost_overview()

    assert [c.segment for c in classes] == ["A", "B", "C", "O"]
    assert all(c.total_cost > 0 for c in classes)
    a, b, c, o = classes
    assert a.potential_cost > 0 and o.potential_cost > 0
    assert b.potential_cost == 0 and c.potential_cost == 0
    assert b.care_cost > c.care_cost  # premium care costs more than the basic package
