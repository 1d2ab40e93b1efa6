from django.urls import path

from . import views

app_name = "servicelevels"
urlpatterns = [
    path("tasks/", views.MyTasksView.as_view(), name="my_tasks"),
    path("tasks/<int:pk>/close/", views.TaskCloseView.as_view(), name="task_close"),
    path("customers/<int:pk>/tasks/", views.CustomerTasksView.as_view(), name="customer_tasks"),
    path("catalogue/", views.CatalogueView.as_view(), name="catalogue"),
    path("catalogue/activities/new/", views.ActivityCreateView.as_view(), name="activity_create"),
    path("catalogue/activities/<int:pk>/", views.ActivityUpdateView.as_view(), name="activity_update"),
    path(
        "catalogue/activities/<int:pk>/minutes/", views.ActivityMinutesView.as_view(), name="activity_minutes"
    ),
    path("catalogue/levels/<int:pk>/", views.ServiceLevelUpdateView.as_view(), name="level_update"),
    path("catalogue/costs/", views.CostSettingsView.as_view(), name="cost_settings"),
    path("workload/", views.WorkloadView.as_view(), name="workload"),
    path("workload/<int:user_pk>/capacity/", views.CapacityUpdateView.as_view(), name="capacity_update"),
]
