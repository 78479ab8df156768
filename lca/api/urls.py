from django.urls import path

from lca.api import views

urlpatterns = [
    path("estimates/", views.EstimateView.as_view(), name="api-estimates"),
    path("scenarios/compare/", views.CompareView.as_view(), name="api-scenarios-compare"),
    path("scheduling/best-start/", views.ScheduleView.as_view(), name="api-schedule"),
    path("grid-regions/", views.GridRegionList.as_view(), name="api-grid-regions"),
    path("grid-regions/<str:code>/", views.GridRegionDetail.as_view(), name="api-grid-region"),
    path("suppliers/", views.SupplierList.as_view(), name="api-suppliers"),
    path("facilities/", views.FacilityList.as_view(), name="api-facilities"),
    path("hardware/", views.HardwareList.as_view(), name="api-hardware"),
]
