"""Template helpers of the servicelevels app."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()


@register.simple_tag
def customer_url(customer_id: int) -> str:
    """The customer page; this app's task page for the customer while there is none."""
    try:
        return reverse("customers:detail", kwargs={"pk": customer_id})
    except NoReverseMatch:
        return reverse("servicelevels:customer_tasks", kwargs={"pk": customer_id})


@register.filter
def lookup(mapping, key):
    """mapping[key] in a template, or None."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
