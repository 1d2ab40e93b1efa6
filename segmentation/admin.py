from django.contrib import admin

from .models import (
    ClassChange,
    ClassOverride,
    PotentialAdjustment,
    PotentialComponent,
    ReclassificationRun,
    RecommendationRule,
    SegmentationPolicy,
    ThirdPartyContract,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Written by the job or by services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SegmentationPolicy)
class SegmentationPolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "is_active", "revenue_method", "revenue_value", "potential_method", "potential_value",
                    "hysteresis_percent", "revenue_window_months", "created_at", "created_by"]  # fmt: skip

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RecommendationRule)
class RecommendationRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "line_of_business", "customer_kind", "min_age", "max_age", "scope", "expected_commission", "is_active"]  # fmt: skip
    list_filter = ["is_active", "customer_kind", "scope"]


@admin.register(ThirdPartyContract)
class ThirdPartyContractAdmin(admin.ModelAdmin):
    list_display = ["customer", "line_of_business", "insurer_name", "expected_commission", "ends_on"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer", "line_of_business"]


@admin.register(PotentialAdjustment)
class PotentialAdjustmentAdmin(admin.ModelAdmin):
    list_display = ["customer", "event", "reason", "amount", "valid_from", "expires_on"]
    raw_id_fields = ["customer"]
    list_select_related = ["customer"]


@admin.register(ClassOverride)
class ClassOverrideAdmin(ReadOnlyAdmin):
    list_display = ["customer", "segment", "computed_class", "reason", "starts_on", "expires_on", "ended_on"]
    list_select_related = ["customer"]


@admin.register(ClassChange)
class ClassChangeAdmin(ReadOnlyAdmin):
    list_display = [
        "customer",
        "date",
        "old_class",
        "new_class",
        "computed_class",
        "revenue",
        "potential",
        "source",
    ]
    list_filter = ["date", "source", "new_class"]
    list_select_related = ["customer"]
    show_full_result_count = False


@admin.register(PotentialComponent)
class PotentialComponentAdmin(ReadOnlyAdmin):
    list_display = ["customer", "kind", "label", "line_of_business", "value"]
    list_filter = ["kind"]
    list_select_related = ["customer", "line_of_business"]
    show_full_result_count = False


@admin.register(ReclassificationRun)
class ReclassificationRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "as_of", "status", "trigger", "started_at", "finished_at", "customers", "changed"]
    list_filter = ["status", "trigger"]
