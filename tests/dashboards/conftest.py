"""A small book with hand-computable figures, classified by two runs with a policy change in
between (see `Book`)."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from dashboards import services as dashboard_services
from segmentation import services as segmentation_services
from segmentation.models import ReclassificationRun, ThresholdMethod
from servicelevels.models import CareActivity, Performer, Recurrence
from tests.factories import CustomerFactory, StaffFactory
from tests.segmentation.factories import (
    ThirdPartyContractFactory,
    customer_with_revenue,
    only_rules,
    set_policy,
)
from tests.servicelevels.factories import CareActivityFactory, level

FIRST_RUN = dt.date(2026, 5, 31)
SECOND_RUN = dt.date(2026, 6, 30)
# "Now" of the snapshots: open tasks due before this day are overdue.
SNAPSHOT_AT = timezone.make_aware(dt.datetime(2026, 7, 1, 6, 0))


def customer(revenue: str, potential: str, *, advisor, **fields) -> Customer:
    c = customer_with_revenue(revenue, booked_on=dt.date(2026, 3, 1), advisor=advisor, **fields)
    if Decimal(potential):
        ThirdPartyContractFactory(customer=c, expected_commission=Decimal(potential))
    return c


@dataclass
class Book:
    owner: object
    anna: object
    c: dict[str, Customer]
    first_run: ReclassificationRun
    second_run: ReclassificationRun
    activities: dict[str, CareActivity]


def catalogue() -> dict[str, CareActivity]:
    """Per customer and year: A 30 min owner (150 €/h) on the birthday = 75 €; B 60 min staff
    (45 €/h) yearly = 45 €; C nothing; O 30 min staff every 6 months = 45 €."""
    CareActivity.objects.all().delete()
    return {
        "A": CareActivityFactory(
            service_level=level("A"),
            name="Geburtstag",
            recurrence=Recurrence.BIRTHDAY,
            interval_months=None,
            minutes=30,
            performer=Performer.OWNER,
        ),
        "B": CareActivityFactory(
            service_level=level("B"), name="Jahresgespräch", interval_months=12, minutes=60
        ),
        "O": CareActivityFactory(
            service_level=level("O"), name="Bedarfsanalyse", interval_months=6, minutes=30
        ),
    }


def classify(as_of: dt.date) -> ReclassificationRun:
    run = segmentation_services.reclassification_run(as_of=as_of)
    dashboard_services.snapshot_take(run=run, now=SNAPSHOT_AT)
    return run


def build_book(owner) -> Book:
    """Run 1 (31.05.2026): revenue ≥ 400 €, potential ≥ 300 €, hysteresis 10 %.
    Run 2 (30.06.2026): revenue threshold lowered to 150 € (a customer on the low side becomes
    high from 165 €).

    name  advisor revenue potential  run 1  run 2
    a1    anna    1000    500        A      A
    b1    anna     800      0        B      B
    b2    owner    450      0        B      B
    c1    owner    100      0        C      C
    c2    anna     200      0        C      B
    o1    owner    200    500        O      A
    o2    anna      50    400        O      O
    o3    owner      0    350        O      O
    f1    anna       0      0        –      –   (former customer)
    """
    only_rules()
    set_policy(
        revenue_method=ThresholdMethod.ABSOLUTE,
        revenue_value=Decimal("400"),
        potential_method=ThresholdMethod.ABSOLUTE,
        potential_value=Decimal("300"),
        hysteresis_percent=Decimal("10"),
    )
    anna = StaffFactory(username="anna", first_name="Anna", last_name="Arndt")
    c = {
        "a1": customer("1000", "500", advisor=anna, name="Albers"),
        "b1": customer("800", "0", advisor=anna, name="Bauer"),
        "b2": customer("450", "0", advisor=owner, name="Brandt"),
        "c1": customer("100", "0", advisor=owner, name="Claus"),
        "c2": customer("200", "0", advisor=anna, name="Conrad"),
        "o1": customer("200", "500", advisor=owner, name="Otto"),
        "o2": customer("50", "400", advisor=anna, name="Oswald"),
        "o3": CustomerFactory(advisor=owner, name="Ortmann"),
        "f1": CustomerFactory(advisor=anna, name="Fuchs", status=Customer.Status.FORMER),
    }
    ThirdPartyContractFactory(customer=c["o3"], expected_commission=Decimal("350"))
    activities = catalogue()
    first = classify(FIRST_RUN)
    policy = segmentation_services.policy_active()
    segmentation_services.policy_publish(
        data={
            "revenue_method": ThresholdMethod.ABSOLUTE,
            "revenue_value": Decimal("150"),
            "potential_method": ThresholdMethod.ABSOLUTE,
            "potential_value": policy.potential_value,
            "hysteresis_percent": policy.hysteresis_percent,
            "revenue_window_months": policy.revenue_window_months,
        },
        by=owner,
    )
    second = classify(SECOND_RUN)
    for obj in c.values():
        obj.refresh_from_db()
    return Book(owner=owner, anna=anna, c=c, first_run=first, second_run=second, activities=activities)


@pytest.fixture
def book(db, owner):
    return build_book(owner)
