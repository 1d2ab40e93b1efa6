from django.urls import path, re_path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.refuse_oversized_upload(views.ImportStartView.as_view()), name="start"),
    path("<int:pk>/", views.ImportJobDetailView.as_view(), name="job"),
    path("<int:pk>/mapping/", views.ImportJobMappingView.as_view(), name="mapping"),
    path("<int:pk>/progress/", views.ImportJobProgressView.as_view(), name="progress"),
    path("<int:pk>/confirm/", views.ImportJobConfirmView.as_view(), name="confirm"),
    re_path(
        r"^export/(?P<kind>customers|contracts|bookings)\.(?P<file_format>csv|xlsx)$",
        views.ExportView.as_view(),
        name="export",
    ),
]
