"""Display helpers: money as `1.234,56 €` (German) and class badges."""

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.formats import get_format, number_format
from django.utils.html import format_html

register = template.Library()


@register.filter
def money(value, decimals: int = 2) -> str:
    """1234.5 -> '1.234,50 €' in German (the active locale's separators)."""
    if value is None or value == "":
        return "–"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return "–"
    return f"{number_format(amount, decimal_pos=int(decimals), force_grouping=True)}\u00a0€"


def money_formatter(decimals: int = 2) -> Callable[[Any], str]:
    """`money` for many values at once (list rows): the active locale's separators are looked
    up once instead of per value. Gives the same text as `money` for amounts with at most
    `decimals` places (the money columns); `money` cuts further places, this rounds them."""
    separators = str.maketrans({",": get_format("THOUSAND_SEPARATOR"), ".": get_format("DECIMAL_SEPARATOR")})

    def format_money(value) -> str:
        if value is None or value == "":
            return "–"
        try:
            amount = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return "–"
        return f"{amount:,.{decimals}f}".translate(separators) + "\u00a0€"

    return format_money


@register.filter
def segment_badge(segment: str) -> str:
    if not segment:
        return "–"
    return format_html('<span class="segment-badge segment-{0}">{0}</span>', segment)
