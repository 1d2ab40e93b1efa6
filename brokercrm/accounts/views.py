from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django.views.generic import ListView

from .forms import LanguageForm
from .roles import OWNER_PERMISSION
from .services import locked_attempts, login_unlock


@require_POST
def language_update(request):
    """Store the user's language and switch to it at once."""
    form = LanguageForm(request.POST, instance=request.user)
    if form.is_valid():
        request.user.language = form.cleaned_data["language"]
        request.user.save(update_fields=["language"])
        translation.activate(form.cleaned_data["language"])
        messages.success(request, _("Language changed."))
    else:
        messages.error(request, _("Unknown language."))
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    return redirect(next_url)


class LockoutListView(PermissionRequiredMixin, ListView):
    """Owner: logins locked after repeated failures, with an unlock button."""

    permission_required = OWNER_PERMISSION
    template_name = "accounts/lockout_list.html"
    context_object_name = "attempts"

    def get_queryset(self):
        return locked_attempts()


@require_POST
@permission_required(OWNER_PERMISSION, raise_exception=True)
def lockout_release(request):
    username = request.POST.get("username", "")
    released = login_unlock(username=username)
    if released:
        messages.success(request, _("The login “%(username)s” is unlocked.") % {"username": username})
    else:
        messages.info(request, _("The login “%(username)s” was not locked.") % {"username": username})
    return redirect("lockouts")
