from django.urls import path

from . import views, views_privacy

app_name = "customers"
urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("count/", views.CustomerCountView.as_view(), name="count"),
    path("export.csv", views.CustomerExportView.as_view(), name="export"),
    path("settings/", views.OfficeSettingsView.as_view(), name="office_settings"),
    path("new/", views.CustomerCreateView.as_view(), name="create"),
    path("<int:pk>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<int:pk>/edit/", views.CustomerUpdateView.as_view(), name="update"),
    path("<int:pk>/activities/new/", views.ActivityCreateView.as_view(), name="activity_create"),
    path("<int:pk>/contracts/new/", views.ContractCreateView.as_view(), name="contract_create"),
    path("<int:pk>/bookings/new/", views.BookingCreateView.as_view(), name="booking_create"),
    path("<int:pk>/consents/new/", views.ConsentGrantView.as_view(), name="consent_grant"),
    path("consents/<int:pk>/withdraw/", views.ConsentWithdrawView.as_view(), name="consent_withdraw"),
    path("contracts/", views.ContractListView.as_view(), name="contract_list"),
    path("contracts/count/", views.ContractCountView.as_view(), name="contract_count"),
    path("contracts/export.csv", views.ContractExportView.as_view(), name="contract_export"),
    path("contracts/<int:pk>/edit/", views.ContractUpdateView.as_view(), name="contract_update"),
    path("contracts/<int:pk>/delete/", views.ContractDeleteView.as_view(), name="contract_delete"),
    # Audit trail and data protection (DSGVO), see customers/privacy.py.
    path("<int:pk>/history/", views_privacy.HistoryPanelView.as_view(), name="history_panel"),
    path("<int:pk>/privacy/export/", views_privacy.DataExportView.as_view(), name="privacy_export"),
    path("<int:pk>/privacy/erase/", views_privacy.ErasureRequestView.as_view(), name="privacy_erase"),
    path("privacy/", views_privacy.PrivacyRegisterView.as_view(), name="privacy_register"),
]
