"""Cells of the dashboard tables: shown by column kind, with the raw value for machines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext

from customers.templatetags.crm import money, segment_badge

from .. import tables as t

register = template.Library()


@register.filter
def cell(c: t.Cell) -> str:
    value, kind = c.value, c.column.kind
    if value is None or value == "":
        return "–"
    if kind == t.MONEY:
        return money(value)
    if kind == t.PERCENT:
        return f"{formats.number_format(value, decimal_pos=1)}\u00a0%"
    if kind == t.INT:
        return formats.number_format(value, force_grouping=True)
    if kind == t.CLASS:
        return segment_badge(value) if value in ("A", "B", "C", "O") else (value or "–")
    if kind == t.DURATION:
        return formats.number_format(Decimal(value.total_seconds()).quantize(Decimal("0.1")), decimal_pos=1)
    if kind == t.DATETIME and isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if kind == t.DATE and isinstance(value, dt.date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


@register.filter
def raw(c: t.Cell) -> str:
    """The unformatted value (data-value attribute): what tests and scripts read."""
    value = c.value
    if value is None:
        return ""
    if isinstance(value, dt.timedelta):
        return str(value.total_seconds())
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _cell_html(c: t.Cell, tag: str) -> str:
    attrs = format_html(' data-col="{}" data-value="{}"', c.column.key, raw(c))
    if tag == "th":
        attrs += mark_safe(' scope="row"')
    elif c.column.align_end:
        attrs += mark_safe(' class="text-end"')
    shown = conditional_escape(cell(c))
    if c.href:
        shown = format_html('<a href="{}">{}</a>', c.href, shown)
    return f"<{tag}{attrs}>{shown}</{tag}>"


@register.simple_tag
def dashboard_table(table: t.Table, export_query: str = "") -> str:
    """An accessible table of a dashboard section, with a CSV link when ``export_query`` is
    given. Built in Python: the dashboard has a few thousand cells, and this is the hot path."""
    caption = conditional_escape(table.caption)
    if export_query:
        href = f"{reverse('dashboards:export')}?{export_query}&table={table.name}"
        caption += format_html(
            ' · <a href="{}" class="small" data-export="{}">{}</a>', href, table.name, gettext("CSV")
        )
    head = "".join(
        format_html(
            '<th scope="col"{}>{}</th>', mark_safe(' class="text-end"') if col.align_end else "", col.label
        )
        for col in table.columns
    )
    rows = [
        "<tr>" + "".join(_cell_html(c, "th" if i == 0 else "td") for i, c in enumerate(row)) + "</tr>"
        for row in table.cells()
    ]
    if not rows:
        rows.append(
            format_html(
                '<tr><td colspan="{}" class="text-body-secondary">{}</td></tr>',
                len(table.columns),
                gettext("No data."),
            )
        )
    footer = table.footer
    foot = ""
    if footer:
        cells = "".join(_cell_html(c, "th" if i == 0 else "td") for i, c in enumerate(footer))
        foot = f'<tfoot><tr class="fw-semibold">{cells}</tr></tfoot>'
    note = format_html('<p class="small text-body-secondary">{}</p>', table.note) if table.note else ""
    return mark_safe(
        format_html(
            '<div class="table-responsive"><table class="table table-sm table-hover align-middle dashboard-table" '
            'id="table-{}" data-table="{}">',
            table.name,
            table.name,
        )
        + f'<caption class="caption-top">{caption}</caption><thead><tr>{head}</tr></thead>'
        + f"<tbody>{''.join(rows)}</tbody>{foot}</table></div>{note}"
    )
