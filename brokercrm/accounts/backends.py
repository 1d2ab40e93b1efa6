from axes.backends import AxesStandaloneBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef

from .roles import OWNER_GROUP


class RoleBackend(ModelBackend):
    """The owner (member of the Inhaber group) holds every permission, including those of
    models added after the roles were created; everyone else gets their groups' permissions."""

    def get_user(self, user_id):
        """The signed-in user, with whether they are the owner read in the same query: nearly
        every page asks it (permissions, the menu), and it would cost a query of its own."""
        user_model = get_user_model()
        owner = Group.objects.filter(name=OWNER_GROUP, user=OuterRef("pk"))
        try:
            user = user_model._default_manager.annotate(owner_group_member=Exists(owner)).get(pk=user_id)
        except user_model.DoesNotExist:
            return None
        user._is_owner_cache = user.owner_group_member
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if user_obj.is_active and not user_obj.is_anonymous and obj is None and self._is_owner(user_obj):
            from django.contrib.auth.models import Permission

            if not hasattr(user_obj, "_owner_perm_cache"):
                user_obj._owner_perm_cache = {
                    f"{ct}.{name}"
                    for ct, name in Permission.objects.values_list("content_type__app_label", "codename")
                }
            return user_obj._owner_perm_cache
        return super().get_all_permissions(user_obj, obj)

    def has_perm(self, user_obj, perm, obj=None):
        if user_obj.is_active and not user_obj.is_anonymous and self._is_owner(user_obj):
            return True
        return super().has_perm(user_obj, perm, obj)

    @staticmethod
    def _is_owner(user_obj) -> bool:
        if not hasattr(user_obj, "_is_owner_cache"):
            user_obj._is_owner_cache = user_obj.groups.filter(name=OWNER_GROUP).exists()
        return user_obj._is_owner_cache


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check for logins through a request (the login page, the admin).
    Programmatic authentication without a request (management commands, tests) has no
    client to throttle and falls through to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
