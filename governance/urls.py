from django.urls import path

from governance import views

urlpatterns = [
    path("", views.registry_home, name="registry"),
    path("projects/<slug:slug>/", views.project_detail, name="project"),
    path("projects/<slug:slug>/models/<int:pk>/", views.model_detail, name="registered-model"),
    path("versions/<int:pk>/", views.version_detail, name="model-version"),
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("webhooks/<int:pk>/test/", views.webhook_test, name="webhook-test"),
]
