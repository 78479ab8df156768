from django.contrib import admin

from lca.models import Facility, GridRegion, HardwareModel, HourlyIntensity, Supplier


@admin.register(GridRegion)
class GridRegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "kind", "intensity_g_per_kwh", "year", "basis"]
    list_filter = ["kind", "basis", "year"]
    search_fields = ["code", "name"]


@admin.register(HourlyIntensity)
class HourlyIntensityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["region", "hour", "intensity_g_per_kwh", "basis"]
    list_filter = ["region"]
    date_hierarchy = "hour"
    raw_id_fields = ["region"]


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "renewable_share", "year"]
    list_filter = ["kind"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "supplier", "grid_region", "pue", "wue_l_per_kwh", "certificate_share"]
    list_filter = ["supplier"]
    raw_id_fields = ["grid_region"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(HardwareModel)
class HardwareModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "vendor", "tdp_w", "peak_bf16_tflops", "embodied_central_kgco2e", "lifetime_years"]
    list_filter = ["kind", "vendor"]
    prepopulated_fields = {"slug": ["name"]}
