"""The same book gives the same figures, classes, components and history on SQLite and on
PostgreSQL: this digest is asserted by both runs of the suite (with and without DATABASE_URL).

If the rules or the book generator change on purpose, print the new digest (run with -s) and
update EXPECTED after checking the figures are right on both databases."""

import datetime as dt
import hashlib
from decimal import Decimal

import pytest

from customers.models import Customer
from segmentation import services
from segmentation.models import ClassChange, PotentialComponent, ThresholdMethod
from tests.segmentation.factories import build_book, set_policy

pytestmark = pytest.mark.django_db

EXPECTED = {
    "absolute": "027f615bb12b6686",
    "pareto": "077bf9cb1cd3077c",
}


def digest(customers: list[Customer]) -> str:
    index = {c.pk: i for i, c in enumerate(customers)}
    rows = []
    for c in Customer.objects.select_related("biggest_gap").order_by("id"):
        rows.append(
            (
                index[c.pk],
                c.segment,
                str(c.revenue),
                str(c.potential),
                c.biggest_gap.code if c.biggest_gap else "",
            )
        )
    for p in PotentialComponent.objects.select_related("line_of_business").order_by(
        "customer_id", "kind", "label"
    ):
        rows.append(
            (
                index[p.customer_id],
                p.kind,
                p.line_of_business.code if p.line_of_business else "",
                str(p.value),
                p.label,
            )
        )
    for h in ClassChange.objects.order_by("customer_id", "date"):
        rows.append(
            (
                index[h.customer_id],
                str(h.date),
                h.old_class,
                h.new_class,
                str(h.revenue),
                str(h.potential),
                h.source,
            )
        )
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


@pytest.mark.parametrize("policy", ["absolute", "pareto"])
def test_same_results_on_every_database(policy):
    if policy == "pareto":
        set_policy(revenue_method=ThresholdMethod.PARETO, revenue_value=Decimal("80"),
                   potential_method=ThresholdMethod.QUANTILE, potential_value=Decimal("30"))  # fmt: skip
    customers = build_book(150, seed=11)
    services.reclassification_run(as_of=dt.date(2026, 6, 30), chunk_size=17)
    services.reclassification_run(as_of=dt.date(2026, 9, 30), chunk_size=23)

    result = digest(customers)

    print(f"\n{policy}: {result}")
    assert result == EXPECTED[policy]
