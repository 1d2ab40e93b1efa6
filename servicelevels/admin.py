from django.contrib import admin

from .models import CareActivity, CareTask, CostSettings, ServiceLevel, WeeklyCapacity


class CareActivityInline(admin.TabularInline):
    model = CareActivity
    extra = 0
    fields = ("position", "name", "track", "recurrence", "channel", "minutes", "performer", "active")


@admin.register(ServiceLevel)
class ServiceLevelAdmin(admin.ModelAdmin):
    list_display = ("segment", "name")
    inlines = [CareActivityInline]


@admin.register(CareActivity)
class CareActivityAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "service_level",
        "track",
        "recurrence",
        "channel",
        "minutes",
        "performer",
        "active",
    )
    list_filter = ("service_level", "track", "recurrence", "channel", "performer", "active")


@admin.register(CareTask)
class CareTaskAdmin(admin.ModelAdmin):
    list_display = ("due_date", "activity", "customer", "assignee", "channel", "status")
    list_filter = ("status", "channel", "activity__service_level")
    list_select_related = ("activity", "customer", "assignee")
    raw_id_fields = ("customer", "contract", "assignee", "closed_by", "logged_activity")
    date_hierarchy = "due_date"
    show_full_result_count = False


@admin.register(CostSettings)
class CostSettingsAdmin(admin.ModelAdmin):
    list_display = ("owner_hourly_rate", "staff_hourly_rate", "max_cost_share", "assumed_years_in_class")


@admin.register(WeeklyCapacity)
class WeeklyCapacityAdmin(admin.ModelAdmin):
    list_display = ("user", "minutes_per_week")
