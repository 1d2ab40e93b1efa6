from django.contrib import admin

from .models import Insurer, LineOfBusiness


@admin.register(Insurer)
class InsurerAdmin(admin.ModelAdmin):
    list_display = ("name", "vu_number")
    search_fields = ("name", "vu_number")


@admin.register(LineOfBusiness)
class LineOfBusinessAdmin(admin.ModelAdmin):
    list_display = ("code", "short_name", "name", "gdv_code", "is_gdv")
    search_fields = ("code", "name", "short_name")
    list_filter = ("is_gdv",)
