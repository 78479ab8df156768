from django.urls import path

from lca import views

urlpatterns = [
    path("estimate/", views.estimate_page, name="estimate"),
    path("reference/grid-regions/", views.grid_regions, name="grid-regions"),
    path("reference/facilities/", views.facilities, name="facilities"),
    path("reference/suppliers/", views.suppliers, name="suppliers"),
    path("reference/hardware/", views.hardware, name="hardware"),
]
