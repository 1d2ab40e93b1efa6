from django.urls import path

from . import views

app_name = "segmentation"
urlpatterns = [
    path("", views.PolicyView.as_view(), name="policy"),
    path("policy/preview/", views.PolicyPreviewView.as_view(), name="policy_preview"),
    path("rules/", views.RuleListView.as_view(), name="rule_list"),
    path("rules/new/", views.RuleCreateView.as_view(), name="rule_create"),
    path("rules/<int:pk>/", views.RuleUpdateView.as_view(), name="rule_update"),
    path("runs/", views.RunListView.as_view(), name="runs"),
    path("runs/now/", views.RunNowView.as_view(), name="run_now"),
    path("customers/<int:pk>/", views.CustomerPanelView.as_view(), name="customer_panel"),
    path("customers/<int:pk>/third-party/", views.ThirdPartyCreateView.as_view(), name="third_party_add"),
    path("customers/<int:pk>/adjustments/", views.AdjustmentCreateView.as_view(), name="adjustment_add"),
    path("customers/<int:pk>/override/", views.OverrideSetView.as_view(), name="override_set"),
    path("third-party/<int:pk>/delete/", views.ThirdPartyDeleteView.as_view(), name="third_party_delete"),
    path("adjustments/<int:pk>/delete/", views.AdjustmentDeleteView.as_view(), name="adjustment_delete"),
    path("overrides/<int:pk>/end/", views.OverrideEndView.as_view(), name="override_end"),
]
