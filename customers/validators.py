import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GERMAN_PLZ = re.compile(r"^(?!00)\d{5}$")


def validate_not_future(value):
    if value and value > timezone.localdate():
        raise ValidationError(_("This date lies in the future."), code="future")


def validate_postal_code(postal_code: str, country: str) -> None:
    """German PLZ: five digits, 01067–99998 (no PLZ starts with 00)."""
    if country.upper() == "DE" and postal_code and not GERMAN_PLZ.match(postal_code):
        raise ValidationError(
            _("A German postal code (PLZ) has five digits, e.g. 06526."), code="invalid_plz"
        )
