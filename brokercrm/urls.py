from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="customers:list", permanent=False), name="home"),
    path("accounts/", include("brokercrm.accounts.urls")),
    path("customers/", include("customers.urls")),
    path("segmentation/", include("segmentation.urls")),
    path("service/", include("servicelevels.urls")),
    path("dashboards/", include("dashboards.urls")),
    path("imports/", include("imports.urls")),
    path("admin/", admin.site.urls),
    path("health/", views.health, name="health"),
]
