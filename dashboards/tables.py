"""Plain tables behind every chart and figure of the dashboards: rendered as accessible HTML
tables (`dashboards/partials/table.html`) and exported as CSV from the same rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from customers.tables import csv_date, csv_decimal, csv_stream, csv_text

# Column kinds: how a value is shown and exported.
TEXT, INT, MONEY, PERCENT, CLASS, DATE, DATETIME, DURATION = (
    "text",
    "int",
    "money",
    "percent",
    "class",
    "date",
    "datetime",
    "duration",
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = TEXT
    numeric: bool = False

    @property
    def align_end(self) -> bool:
        return self.kind in (INT, MONEY, PERCENT, DURATION) or self.numeric


@dataclass(frozen=True)
class Cell:
    column: Column
    value: Any
    href: str = ""


@dataclass
class Table:
    """``rows`` hold raw values by column key; ``links`` (same length, optional) the link of a
    cell by column key. ``total`` is an optional footer row."""

    name: str
    caption: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    total: dict[str, Any] | None = None
    note: str = ""

    def add(self, row: dict[str, Any], links: dict[str, str] | None = None) -> None:
        self.rows.append(row)
        self.links.append(links or {})

    def cells(self) -> Iterator[list[Cell]]:
        for index, row in enumerate(self.rows):
            links = self.links[index] if index < len(self.links) else {}
            yield [Cell(c, row.get(c.key), links.get(c.key, "")) for c in self.columns]

    @property
    def body(self) -> list[list[Cell]]:
        return list(self.cells())

    @property
    def footer(self) -> list[Cell] | None:
        if self.total is None:
            return None
        return [Cell(c, self.total.get(c.key)) for c in self.columns]

    def column_values(self, key: str) -> list[Any]:
        return [row.get(key) for row in self.rows]

    def csv(self) -> Iterator[str]:
        rows = [[csv_value(c, row.get(c.key)) for c in self.columns] for row in self.rows]
        if self.total is not None:
            rows.append([csv_value(c, self.total.get(c.key)) for c in self.columns])
        return csv_stream([c.label for c in self.columns], rows)


def csv_value(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return csv_decimal(value)
    if isinstance(value, float):
        return csv_decimal(Decimal(str(value)))
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return csv_date(value)
    if isinstance(value, dt.timedelta):
        return str(int(value.total_seconds()))
    if isinstance(value, int):
        return str(value)
    return csv_text(value)
