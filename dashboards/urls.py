from django.urls import path

from . import views

app_name = "dashboards"
urlpatterns = [
    path("", views.DashboardView.as_view(), name="index"),
    path("export.csv", views.ExportView.as_view(), name="export"),
    path("revenue-potential/", views.PointsView.as_view(), name="points"),
    path("migration/customers/", views.MigrationCustomersView.as_view(), name="migration_customers"),
    path("revenue-potential/customers/", views.BinCustomersView.as_view(), name="bin_customers"),
]
