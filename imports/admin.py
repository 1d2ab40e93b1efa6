from django.contrib import admin

from .models import ImportJob, InsurerCustomerNumber


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ("file_name", "kind", "status", "total_rows", "error_count", "created_by", "created_at")
    list_filter = ("kind", "status")
    search_fields = ("file_name",)
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "content"]
    exclude = ("content",)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("content").select_related("created_by")

    def has_add_permission(self, request):
        return False


@admin.register(InsurerCustomerNumber)
class InsurerCustomerNumberAdmin(admin.ModelAdmin):
    list_display = ("number", "insurer", "customer", "created_at")
    search_fields = ("number", "customer__name", "customer__number")
    list_select_related = ("insurer", "customer")
    raw_id_fields = ("customer",)
