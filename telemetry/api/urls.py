from django.urls import path

from telemetry.api import views

urlpatterns = [
    path("telemetry/agents/", views.EnrolView.as_view(), name="api-telemetry-enrol"),
    path("telemetry/batches/", views.BatchView.as_view(), name="api-telemetry-batches"),
    path("telemetry/devices/", views.DeviceList.as_view(), name="api-telemetry-devices"),
    path("telemetry/quarantine/", views.QuarantineList.as_view(), name="api-telemetry-quarantine"),
    path("telemetry/energy/", views.EnergyView.as_view(), name="api-telemetry-energy"),
]
