from django.urls import path

from governance import views

urlpatterns = [
    path("", views.registry_home, name="registry"),
    path("projects/<slug:slug>/", views.project_detail, name="project"),
    path("projects/<slug:slug>/models/<id:pk>/", views.model_detail, name="registered-model"),
    path("versions/<id:pk>/", views.version_detail, name="model-version"),
    path("versions/<id:pk>/disclosures/", views.version_disclosures, name="version-disclosures"),
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<id:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("webhooks/<id:pk>/test/", views.webhook_test, name="webhook-test"),
    path("projects/<slug:slug>/mlflow/connect/", views.mlflow_connect, name="mlflow-connect"),
]

urlpatterns += [
    path("reviews/", views.review_list, name="reviews"),
    path("reviews/<id:pk>/", views.review_detail, name="review"),
    path("reviews/<id:pk>/save/", views.review_save, name="review-save"),
    path("reviews/<id:pk>/submit/", views.review_submit, name="review-submit"),
    path("reviews/<id:pk>/decide/", views.review_decide, name="review-decide"),
    path("reviews/<id:pk>/comment/", views.review_comment, name="review-comment"),
    path("reviews/<id:pk>/withdraw/", views.review_withdraw, name="review-withdraw"),
    path("reviews/<id:pk>/report/", views.review_report, name="review-report"),
    path("versions/<id:pk>/reviews/new/", views.review_create, name="review-create"),
    path("reports/<id:pk>/download/", views.report_download, name="report-download"),
]

urlpatterns += [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("statement/", views.statement, name="statement"),
]
