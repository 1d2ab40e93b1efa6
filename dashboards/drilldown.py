"""The table of customers behind a number of the dashboard."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from customers.models import Customer
from customers.tables import csv_stream

from . import tables as t

EXPORT_CHUNK = 2000


def customer_columns() -> list[t.Column]:
    return [
        t.Column("number", _("Customer number")),
        t.Column("name", _("Customer")),
        t.Column("segment", _("Class now"), t.CLASS),
        t.Column("revenue", _("Revenue"), t.MONEY),
        t.Column("potential", _("Potential"), t.MONEY),
        t.Column("advisor", _("Advisor")),
        t.Column("city", _("City")),
    ]


def customer_row(customer: Customer) -> dict[str, Any]:
    return {
        "number": customer.number,
        "name": customer.display_name,
        "segment": customer.segment,
        "revenue": customer.revenue,
        "potential": customer.potential,
        "advisor": str(customer.advisor) if customer.advisor else "",
        "city": f"{customer.postal_code} {customer.city}".strip(),
    }


def customer_table(customers: Iterable[Customer]) -> t.Table:
    table = t.Table(name="customers", caption=_("Customers"), columns=customer_columns())
    for customer in customers:
        href = reverse("customers:detail", args=[customer.pk])
        table.add(customer_row(customer), {"name": href, "number": href})
    return table


def customer_csv(customers: QuerySet[Customer]) -> Iterator[str]:
    """All customers of the queryset as CSV, streamed in chunks."""
    columns = customer_columns()
    rows = (
        [t.csv_value(c, row.get(c.key)) for c in columns]
        for row in map(customer_row, customers.iterator(chunk_size=EXPORT_CHUNK))
    )
    return csv_stream([c.label for c in columns], rows)
