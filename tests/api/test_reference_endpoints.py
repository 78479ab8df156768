from tests.conftest import client_for


def test_grid_regions_filter_and_detail(team):
    client = client_for(team.outsider)
    body = client.get("/api/v1/grid-regions/?kind=cloud_region&basis=direct&page_size=500").json()
    assert body["count"] >= 40
    france = client.get("/api/v1/grid-regions/FRA/").json()
    assert france["basis"] == "lifecycle" and france["year"] == 2024 and "Our World in Data" in france["source"]


def test_hardware_and_facilities_carry_sources(team):
    client = client_for(team.outsider)
    h100 = client.get("/api/v1/hardware/?slug=h100-sxm").json()["results"][0]
    assert (h100["tdp_w"], h100["peak_bf16_tflops"], h100["embodied_central_kgco2e"]) == (700, 989, 164)
    assert "NVIDIA HGX H100 PCF" in h100["embodied_source"]
    facility = client.get("/api/v1/facilities/?slug=jean-zay").json()["results"][0]
    assert facility["pue"] == 1.2 and facility["grid_region"] == "FRA"


def test_supplier_score_shows_its_rules(team):
    google = client_for(team.owner).get("/api/v1/suppliers/?slug=google-cloud").json()["results"][0]
    procurement = google["procurement"]
    assert procurement["out_of"] == 100
    assert sum(rule["weight"] for rule in procurement["rules"]) == 100
    assert procurement["score"] == sum(rule["points"] for rule in procurement["rules"])
    unknown = [r["rule"] for r in procurement["rules"] if not r["known"]]
    assert "ISO 14001 environmental management certification" in unknown
