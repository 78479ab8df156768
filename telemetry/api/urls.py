from django.urls import path

from telemetry.api import codecarbon, views

urlpatterns = [
    path("telemetry/agents/", views.EnrolView.as_view(), name="api-telemetry-enrol"),
    path("telemetry/batches/", views.BatchView.as_view(), name="api-telemetry-batches"),
    path("telemetry/prometheus/write", views.RemoteWriteView.as_view(), name="api-telemetry-remote-write"),
    path("telemetry/devices/", views.DeviceList.as_view(), name="api-telemetry-devices"),
    path("telemetry/quarantine/", views.QuarantineList.as_view(), name="api-telemetry-quarantine"),
    path("telemetry/energy/", views.EnergyView.as_view(), name="api-telemetry-energy"),
]

urlpatterns += [
    path("codecarbon/experiments", codecarbon.ExperimentList.as_view(), name="codecarbon-experiments"),
    path("codecarbon/experiments/<uuid:pk>", codecarbon.ExperimentDetail.as_view(), name="codecarbon-experiment"),
    path("codecarbon/projects/<str:project_id>/experiments", codecarbon.ProjectExperimentList.as_view()),
    path("codecarbon/runs", codecarbon.RunList.as_view(), name="codecarbon-runs"),
    path("codecarbon/emissions", codecarbon.EmissionList.as_view(), name="codecarbon-emissions"),
    path("telemetry/codecarbon-runs/<uuid:pk>/", codecarbon.RunFootprintView.as_view(), name="codecarbon-run"),
]
