from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from .roles import OWNER_PERMISSION

# (label, url name, permission or None). Entries whose URL does not exist are left out.
NAVIGATION = [
    (_("Customers"), "customers:list", "customers.view_customer"),
    (_("Contracts"), "customers:contract_list", "customers.view_contract"),
    (_("My tasks"), "servicelevels:my_tasks", "servicelevels.view_caretask"),
    (_("Dashboard"), "dashboards:index", OWNER_PERMISSION),
    (_("Segmentation"), "segmentation:policy", OWNER_PERMISSION),
    (_("Service levels"), "servicelevels:catalogue", OWNER_PERMISSION),
    (_("Import"), "imports:start", OWNER_PERMISSION),
]


def navigation(request):
    """The main menu, computed only when a template shows it (htmx partials do not)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    return {
        "nav_items": SimpleLazyObject(lambda: _nav_items(request, user)),
        "is_owner": SimpleLazyObject(lambda: user.has_perm(OWNER_PERMISSION)),
    }


def _nav_items(request, user) -> list[dict]:
    items = []
    for label, url_name, perm in NAVIGATION:
        if perm and not user.has_perm(perm):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        items.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return items
