"""Number input and output for a German office.

Output: USE_THOUSAND_SEPARATOR is off, so ids and counts in URLs, element ids, CSS selectors and
form values stay plain digits (1621, not 1.621 — which broke links and htmx targets). Money
(`money` filter) and counts meant for reading (`intcomma`) group explicitly.

Input: people still type 1.234,56. Django strips thousand separators from form input only while
USE_THOUSAND_SEPARATOR is on, so its sanitize_separators is replaced by the same function that
always accepts the active locale's thousand separator (with Django's own guard for a single dot
that was meant as a decimal point).
"""

import unicodedata

from django.utils import formats


def sanitize_separators(value):
    if isinstance(value, str):
        parts = []
        decimal_separator = formats.get_format("DECIMAL_SEPARATOR")
        if decimal_separator in value:
            value, decimals = value.split(decimal_separator, 1)
            parts.append(decimals)
        thousand_sep = formats.get_format("THOUSAND_SEPARATOR")
        if not (thousand_sep == "." and value.count(".") == 1 and len(value.split(".")[-1]) != 3):
            for replacement in {thousand_sep, unicodedata.normalize("NFKD", thousand_sep)}:
                value = value.replace(replacement, "")
        parts.append(value)
        value = ".".join(reversed(parts))
    return value


def install() -> None:
    formats.sanitize_separators = sanitize_separators
