from datetime import UTC, datetime, timedelta

from lca.models import GridRegion, HourlyIntensity
from tests.conftest import client_for

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def hourly(code, values):
    region = GridRegion.objects.get(code=code)
    for h, v in enumerate(values):
        HourlyIntensity.objects.create(
            region=region, hour=T0 + timedelta(hours=h), intensity_g_per_kwh=v, basis="lifecycle", source="test"
        )


def test_best_start_across_regions_with_the_saving(team):
    hourly("DEU", [400, 380, 150, 140, 390])
    hourly("FRA", [60, 30, 30, 60, 60])
    body = {
        "regions": ["DEU", "FRA"],
        "current_region": "DEU",
        "duration_h": 2,
        "energy_kwh": 1000,
        "earliest": T0.isoformat(),
    }
    response = client_for(team.ml_lead).post("/api/v1/scheduling/best-start/", body, format="json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert result["best"]["region"] == "FRA" and result["best"]["start"].startswith("2026-03-01T01:00")
    assert result["now"]["kgco2e"] == 390 and result["saving_kgco2e"] == 360


def test_regions_without_hourly_data_are_named(team):
    body = {"regions": ["SWE"], "duration_h": 2, "energy_kwh": 1, "earliest": T0.isoformat()}
    response = client_for(team.ml_lead).post("/api/v1/scheduling/best-start/", body, format="json")
    assert response.status_code == 400
    assert "SWE" in response.json()["errors"]["regions"][0]


def test_a_window_never_spans_a_gap_and_skipped_regions_are_listed(team):
    region = GridRegion.objects.get(code="DEU")
    # hours 0, 4, 5: the cheap hours 4 and 5 are contiguous, hour 0 is not next to them
    for h, v in ((0, 10), (4, 300), (5, 300)):
        HourlyIntensity.objects.create(
            region=region, hour=T0 + timedelta(hours=h), intensity_g_per_kwh=v, basis="lifecycle", source="test"
        )
    hourly("FRA", [500])  # one hour only: too short for a 2-hour job
    body = {"regions": ["DEU", "FRA", "SWE"], "duration_h": 2, "energy_kwh": 1000, "earliest": T0.isoformat()}
    result = client_for(team.ml_lead).post("/api/v1/scheduling/best-start/", body, format="json").json()
    # Before, hours 0 and 4 made a "2-hour window" at 155 g; the only real one is hours 4-5.
    assert result["best"]["start"].startswith("2026-03-01T04:00") and result["best"]["mean_intensity_g_per_kwh"] == 300
    skipped = {s["region"]: s["reason"] for s in result["skipped"]}
    assert set(skipped) == {"FRA", "SWE"}
    assert "without a gap" in skipped["FRA"] and "no hourly intensity" in skipped["SWE"]
