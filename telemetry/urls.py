from django.urls import path

from telemetry import views

urlpatterns = [
    path("telemetry/", views.devices, name="telemetry-devices"),
    path("telemetry/chart/", views.chart, name="telemetry-chart"),
]
