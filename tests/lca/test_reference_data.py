"""The shipped reference data: enough of it, and every figure with its source."""

import pytest

from lca.models import Facility, GridRegion, HardwareModel, Supplier

REQUIRED_HARDWARE = [
    "a100-sxm-40gb",
    "a100-sxm-80gb",
    "h100-sxm",
    "h100-pcie",
    "h200-sxm",
    "b200",
    "l4",
    "l40s",
    "mi300x",
    "tpu-v4",
    "tpu-v5e",
    "tpu-v5p",
    "host-8gpu",
]


def test_at_least_40_countries_and_the_main_cloud_regions(db):
    assert GridRegion.objects.filter(kind="country").count() >= 40
    for prefix in ("gcp:", "aws:", "azure:"):
        assert GridRegion.objects.filter(code__startswith=prefix).count() >= 10, prefix


def test_required_hardware_is_shipped(db):
    assert set(REQUIRED_HARDWARE) <= set(HardwareModel.objects.values_list("slug", flat=True))


@pytest.mark.parametrize("model", [GridRegion, Supplier, Facility, HardwareModel])
def test_every_shipped_row_names_its_source(db, model):
    assert not model.objects.filter(source="").exists()


def test_unknown_embodied_figures_are_empty_with_a_reason(db):
    for hw in HardwareModel.objects.filter(embodied_central_kgco2e__isnull=True):
        assert hw.embodied_source, hw.slug


def test_google_regions_are_marked_direct_and_countries_lifecycle(db):
    assert GridRegion.objects.get(code="gcp:europe-west1").basis == "direct"
    assert GridRegion.objects.get(code="FRA").basis == "lifecycle"
