from urllib.parse import urlencode

import pytest

from lca.validation import run
from tests.factories import PASSWORD


@pytest.fixture
def logged_in(client, team):
    client.login(username=team.reviewer.username, password=PASSWORD)
    return client


@pytest.mark.parametrize(
    ("url", "text"),
    [
        ("/reference/grid-regions/?q=FRA", "Our World in Data"),
        ("/reference/grid-regions/?kind=cloud_region&q=europe-west9", "gcp:europe-west9"),
        ("/reference/facilities/", "Jean Zay"),
        ("/reference/suppliers/", "Procurement score"),
        ("/reference/hardware/", "NVIDIA HGX H100 PCF"),
    ],
)
def test_catalogue_pages_show_figures_with_sources(logged_in, url, text):
    response = logged_in.get(url)
    assert response.status_code == 200
    assert text in response.content.decode()


def test_estimate_page_shows_breakdown_chart_and_sources(logged_in):
    query = {
        "activity": "model",
        "phase": "training",
        "active_parameters": 7e9,
        "tokens": 2e12,
        "hardware": "h100-sxm",
        "accelerator_count": 256,
        "host": "host-8gpu",
        "facility": "aws-us-east-1",
    }
    html = logged_in.get("/estimate/?" + urlencode(query)).content.decode()
    assert "<svg" in html and "Location-based" in html and "Market-based" in html
    assert "Whole-run MFU" in html and "Llama 3.1 405B 0.35" in html
    assert "What drives the range" in html


def test_estimate_page_agrees_with_the_api_and_the_command(logged_in, team):
    from lca.templatetags.figures import number
    from tests.conftest import client_for

    query = {
        "activity": "accelerator_hours",
        "accelerator_hours": 1_082_990,
        "hardware": "a100-sxm-80gb",
        "grid_region": "FRA",
        "pue": 1,
    }
    html = logged_in.get("/estimate/?" + urlencode(query)).content.decode()
    body = {"accelerator_hours": 1_082_990, "hardware": "a100-sxm-80gb", "grid_region": "FRA", "pue": 1}
    api = client_for(team.reviewer).post("/api/v1/estimates/", body, format="json").json()
    for key in ("location_based_kgco2e", "embodied_kgco2e", "facility_energy_kwh"):
        assert number(api[key]["central"]) in html, key
    assert all(o.passed for o in run())


def test_estimate_page_explains_bad_input(logged_in):
    html = logged_in.get("/estimate/?activity=accelerator_hours&accelerator_hours=10").content.decode()
    assert "Give a facility, a grid region, or an explicit grid intensity." in html
