from django.urls import path

from governance.api import views

urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="api-projects"),
    path("projects/<int:pk>/", views.ProjectDetailView.as_view(), name="api-project"),
    path("projects/<int:pk>/members/", views.MembershipListView.as_view(), name="api-project-members"),
    path("models/", views.RegisteredModelListView.as_view(), name="api-models"),
    path("models/<int:pk>/", views.RegisteredModelDetailView.as_view(), name="api-model"),
    path("model-versions/", views.ModelVersionListView.as_view(), name="api-model-versions"),
    path("model-versions/<int:pk>/", views.ModelVersionDetailView.as_view(), name="api-model-version"),
]
