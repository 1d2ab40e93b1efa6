"""Admin for the reference data (insurers, lines of business) and a read-mostly view of the book.

Customers are edited in the app (with optimistic locking and the services' checks); the admin
only shows them. It never deletes one: a customer is removed by an erasure request (Art. 17
DSGVO, `customers.privacy.customer_erase`, linked from the customer's admin page), which keeps
and restricts the contracts, bookings and consents that retention duties keep, and
`purge_retention` deletes them once the retention has passed. Contracts may be corrected here;
a save bumps the version, so a form opened elsewhere meanwhile reports the conflict instead of
overwriting. A contract of a restricted customer, or one with Courtage bookings, can be neither
changed nor deleted here.
"""

from django.contrib import admin
from django.db.models import Count, F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from .models import CommissionBooking, Contract, Customer, Household, Insurer, LineOfBusiness


@admin.register(Insurer)
class InsurerAdmin(admin.ModelAdmin):
    list_display = ("name", "vu_number")
    search_fields = ("name", "vu_number")


@admin.register(LineOfBusiness)
class LineOfBusinessAdmin(admin.ModelAdmin):
    list_display = ("code", "short_name", "name", "gdv_code", "is_gdv")
    search_fields = ("code", "name", "short_name")
    list_filter = ("is_gdv",)


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "created_at")
    search_fields = ("name",)
    show_full_result_count = False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_count=Count("members"))

    @admin.display(description=_("members"), ordering="member_count")
    def member_count(self, obj) -> int:
        return obj.member_count


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "display_name",
        "postal_code",
        "city",
        "advisor",
        "status",
        "segment",
        "revenue",
    )
    list_filter = ("status", "segment", "kind")
    list_select_related = ("advisor",)
    search_fields = ("=number", "name", "postal_code")
    show_full_result_count = False
    raw_id_fields = ("advisor", "household", "referred_by")
    readonly_fields = ("erasure",)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # only through the erasure request, see the module docstring

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description=_("Erasure (Art. 17 DSGVO)"))
    def erasure(self, obj) -> str:
        if obj.restricted_at is not None:
            return _("Erased; the rest is restricted until %(day)s.") % {
                "day": obj.retention_until.strftime("%d.%m.%Y") if obj.retention_until else "–"
            }
        return format_html(
            '<a href="{}">{}</a>', reverse("customers:privacy_erase", args=[obj.pk]), _("Erasure request …")
        )


class BookingInline(admin.TabularInline):
    model = CommissionBooking
    extra = 0
    fields = ("booked_on", "kind", "amount", "statement_reference", "created_by")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("policy_number", "customer", "insurer", "line_of_business", "status", "annual_premium")
    list_filter = ("status", "insurer")
    list_select_related = ("customer", "insurer", "line_of_business")
    search_fields = ("=policy_number", "=customer__number")
    raw_id_fields = ("customer",)
    autocomplete_fields = ("insurer", "line_of_business")
    show_full_result_count = False
    inlines = [BookingInline]

    def _kept(self, obj) -> bool:
        """Restricted (Art. 18) or an accounting record: not to be changed or deleted here."""
        return obj is not None and (obj.customer.restricted_at is not None or obj.bookings.exists())

    def has_change_permission(self, request, obj=None) -> bool:
        restricted = obj is not None and obj.customer.restricted_at is not None
        return not restricted and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return not self._kept(obj) and super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, with the checks above
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            obj.version = F("version") + 1
        super().save_model(request, obj, form, change)
        if change:
            obj.refresh_from_db(fields=["version"])
