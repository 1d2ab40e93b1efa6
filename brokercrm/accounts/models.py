from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import roles


class User(AbstractUser):
    """A member of the broker firm: the owner (Inhaber) or office staff (Innendienst)."""

    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "username"]
        permissions = [
            ("access_owner_area", _("Can use the owner area (policy, service levels, dashboards)"))
        ]

    def __str__(self) -> str:
        return self.name_for_display(self.first_name, self.last_name, self.username)

    @staticmethod
    def name_for_display(first_name: str, last_name: str, username: str) -> str:
        """How a user is named on pages and in lists (from plain values, too)."""
        return f"{first_name} {last_name}".strip() or username

    @property
    def is_owner(self) -> bool:
        return self.has_perm(roles.OWNER_PERMISSION)
