from datetime import UTC, datetime, timedelta

import pytest

from lca.scheduling import best_start

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def series(values):
    return [(T0 + timedelta(hours=h), v) for h, v in enumerate(values)]


def test_finds_the_cleanest_window_and_region_and_the_saving():
    schedule = best_start(
        duration_h=2,
        energy_kwh=1000,
        series={"here": series([400, 400, 100, 100, 400]), "there": series([300, 50, 50, 300, 300])},
        current_region="here",
    )
    assert (schedule.best.region, schedule.best.start) == ("there", T0 + timedelta(hours=1))
    assert schedule.best.kgco2e == pytest.approx(50)
    assert schedule.now is not None and schedule.now.kgco2e == pytest.approx(400)
    assert schedule.saving_kgco2e == pytest.approx(350)
    assert [c.region for c in schedule.candidates] == ["there", "here"]


def test_a_region_without_enough_hours_is_left_out():
    with pytest.raises(ValueError, match="consecutive hours"):
        best_start(duration_h=5, energy_kwh=1, series={"short": series([1, 2])})
