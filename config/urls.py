from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.api import IdConverter
from config.metrics import metrics
from governance.views import attestation_key

register_converter(IdConverter, "id")  # before the apps' URLs, which use <id:pk>

api_v1: list[URLPattern | URLResolver] = [
    path("", include("governance.api.urls")),
    path("", include("lca.api.urls")),
    path("", include("telemetry.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

urlpatterns = [
    path("metrics", metrics, name="metrics"),
    path(".well-known/greenlight/attestation-key.pem", attestation_key, name="attestation-key"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include("lca.urls")),
    path("", include("telemetry.urls")),
    path("", include("governance.urls")),
]

handler404 = "config.api.not_found"
