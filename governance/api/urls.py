from django.urls import path

from governance.api import views

urlpatterns = [
    path("projects/", views.ProjectListView.as_view(), name="api-projects"),
    path("projects/<id:pk>/", views.ProjectDetailView.as_view(), name="api-project"),
    path("projects/<id:pk>/members/", views.MembershipListView.as_view(), name="api-project-members"),
    path("models/", views.RegisteredModelListView.as_view(), name="api-models"),
    path("models/<id:pk>/", views.RegisteredModelDetailView.as_view(), name="api-model"),
    path("projects/<id:pk>/mlflow/", views.MlflowHookView.as_view(), name="api-project-mlflow"),
    path("projects/<id:pk>/mlflow/versions/", views.MlflowVersionView.as_view(), name="api-mlflow-versions"),
    path("integrations/mlflow/<slug:slug>/", views.MlflowWebhookView.as_view(), name="api-mlflow-webhook"),
    path("suppliers/<slug:slug>/data-requests/", views.SupplierDataRequestView.as_view(), name="api-supplier-requests"),
    path("model-versions/", views.ModelVersionListView.as_view(), name="api-model-versions"),
    path("model-versions/<id:pk>/", views.ModelVersionDetailView.as_view(), name="api-model-version"),
]

urlpatterns += [
    path("model-versions/<id:pk>/footprint/", views.VersionFootprintView.as_view(), name="api-version-footprint"),
    path("model-versions/<id:pk>/disclosures/", views.DisclosuresView.as_view(), name="api-version-disclosures"),
    path("model-versions/<id:pk>/release-gate/", views.ReleaseGateView.as_view(), name="api-release-gate"),
    path("model-versions/<id:pk>/release/", views.ReleaseView.as_view(), name="api-release"),
    path("model-versions/<id:pk>/attestation/", views.AttestationView.as_view(), name="api-attestation"),
    path("runs/", views.RunListView.as_view(), name="api-runs"),
    path("runs/<id:pk>/", views.RunDetailView.as_view(), name="api-run"),
    path("runs/<id:pk>/close/", views.RunCloseView.as_view(), name="api-run-close"),
    path("runs/<id:pk>/coverage-exception/", views.RunCoverageExceptionView.as_view(), name="api-run-exception"),
    path("deployments/", views.DeploymentListView.as_view(), name="api-deployments"),
    path("deployments/<id:pk>/usage/", views.UsageView.as_view(), name="api-deployment-usage"),
    path("budgets/", views.BudgetListView.as_view(), name="api-budgets"),
    path("webhooks/", views.WebhookListView.as_view(), name="api-webhooks"),
    path("webhooks/<id:pk>/deliveries/", views.WebhookDeliveriesView.as_view(), name="api-webhook-deliveries"),
    path("webhooks/<id:pk>/rotate-secret/", views.WebhookRotateSecretView.as_view(), name="api-webhook-rotate"),
    path("reviews/", views.ReviewListView.as_view(), name="api-reviews"),
    path("reviews/<id:pk>/", views.ReviewDetailView.as_view(), name="api-review"),
    path("reviews/<id:pk>/submit/", views.ReviewSubmitView.as_view(), name="api-review-submit"),
    path("reviews/<id:pk>/withdraw/", views.ReviewWithdrawView.as_view(), name="api-review-withdraw"),
    path("reviews/<id:pk>/decisions/", views.ReviewDecisionView.as_view(), name="api-review-decisions"),
    path("reviews/<id:pk>/comments/", views.ReviewCommentView.as_view(), name="api-review-comments"),
    path("audit-events/", views.AuditEventListView.as_view(), name="api-audit-events"),
    path("audit-chain/", views.AuditChainHeadView.as_view(), name="api-audit-chain"),
]

urlpatterns += [
    path("reviews/<id:pk>/reports/", views.ReportRequestView.as_view(), name="api-review-reports"),
    path("reports/<id:pk>/", views.ReportDetailView.as_view(), name="api-report"),
    path("reports/<id:pk>/<str:kind>/", views.ReportFileView.as_view(), name="api-report-file"),
]
