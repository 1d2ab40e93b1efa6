import functools

from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
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
    nav_items = SimpleLazyObject(lambda: _nav_items(request, user))
    is_owner = SimpleLazyObject(lambda: user.has_perm(OWNER_PERMISSION))
    return {
        "nav_items": nav_items,
        "is_owner": is_owner,
        # What the rendered menu depends on (base.html keeps it under this key).
        "nav_key": SimpleLazyObject(lambda: _nav_key(user, nav_items, bool(is_owner))),
    }


def _nav_key(user, nav_items, is_owner: bool) -> str:
    entries = tuple((str(item["url"]), item["active"]) for item in nav_items)
    return repr((get_language(), user.pk, str(user), is_owner, entries))


def _nav_items(request, user) -> list[dict]:
    return [
        {"label": label, "url": url, "active": request.path.startswith(url)}
        for label, url, perm in _navigation(get_urlconf(), get_script_prefix())
        if not perm or user.has_perm(perm)
    ]


@functools.lru_cache(maxsize=8)
def _navigation(urlconf, script_prefix: str) -> tuple[tuple, ...]:
    """NAVIGATION with the URLs reversed, once per URLconf and prefix."""
    entries = []
    for label, url_name, perm in NAVIGATION:
        try:
            entries.append((label, reverse(url_name, urlconf=urlconf), perm))
        except NoReverseMatch:
            continue
    return tuple(entries)
