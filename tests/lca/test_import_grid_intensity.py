from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lca.models import GridRegion, HourlyIntensity

EMBER = """Area,ISO 3 code,Year,Area type,Category,Subcategory,Variable,Unit,Value
France,FRA,2025,Country,Power sector emissions,CO2 intensity,CO2 intensity,gCO2/kWh,44.0
France,FRA,2024,Country,Power sector emissions,CO2 intensity,CO2 intensity,gCO2/kWh,85.0
France,FRA,2024,Country,Electricity generation,Fuel,Coal,TWh,0.5
Atlantis,ATL,2024,Country,Power sector emissions,CO2 intensity,CO2 intensity,gCO2/kWh,120
Europe,,2024,Region,Power sector emissions,CO2 intensity,CO2 intensity,gCO2/kWh,250
Poland,POL,2024,Country,Power sector emissions,CO2 intensity,CO2 intensity,gCO2/kWh,-3
"""

OWID = """country,year,iso_code,carbon_intensity_elec,population
Sweden,2024,SWE,35.8,10000000
Sweden,2025,SWE,,10000000
World,2024,OWID_WRL,473.0,8000000000
"""

EMAPS_HOURLY = """Datetime (UTC),Country,Zone Name,Zone Id,Carbon Intensity gCO₂eq/kWh (direct),Carbon Intensity gCO₂eq/kWh (Life cycle),Carbon-free energy percentage (CFE%),Renewable energy percentage (RE%),Data source,Data estimated,Data estimation method
2024-01-01 00:00:00,France,France,FR,20.1,35.2,95,30,x,false,
2024-01-01 01:00:00,France,France,FR,21.0,36.0,95,30,x,false,
2024-01-01 02:00:00,France,France,FR,bad,bad,95,30,x,false,
"""


def run(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    out = StringIO()
    call_command("import_grid_intensity", str(path), stdout=out)
    return out.getvalue()


def test_ember_keeps_the_latest_year_and_rejects_with_reasons(db, tmp_path):
    out = run(tmp_path, "ember.csv", EMBER)
    assert "Format: ember" in out
    assert "added 1, updated 1" in out  # ATL added, FRA updated to 2025
    assert "no ISO code (an aggregate)" in out and "negative intensity" in out
    france = GridRegion.objects.get(code="FRA")
    assert (france.intensity_g_per_kwh, france.year, france.licence) == (44.0, 2025, "CC-BY-4.0")
    assert "Ember" in france.source


def test_import_is_idempotent(db, tmp_path):
    run(tmp_path, "ember.csv", EMBER)
    out = run(tmp_path, "ember.csv", EMBER)
    assert "added 0, updated 0, unchanged 3" in out


def test_owid_skips_empty_years_and_aggregates(db, tmp_path):
    out = run(tmp_path, "owid.csv", OWID)
    assert "rejected 1" in out and "World: no ISO code" in out
    assert GridRegion.objects.get(code="SWE").intensity_g_per_kwh == 35.8


def test_electricity_maps_hourly_series(db, tmp_path):
    out = run(tmp_path, "fr.csv", EMAPS_HOURLY)
    assert "Format: electricitymaps" in out and "added 2" in out and "rejected 1" in out
    values = list(HourlyIntensity.objects.filter(region__code="FR").values_list("intensity_g_per_kwh", flat=True))
    assert values == [35.2, 36.0]  # the life-cycle column by default
    assert "added 0, updated 0, unchanged 2" in run(tmp_path, "fr.csv", EMAPS_HOURLY)


def test_unknown_format_is_a_clear_error(db, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CommandError, match="Unrecognised CSV header"):
        call_command("import_grid_intensity", str(path))
