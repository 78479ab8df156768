"""Host energy from Linux powercap (RAPL), read from a fake sysfs tree."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from telemetry.agent.backends import ManualClock, RaplHost, SimulatedBackend, WithHost, host_energy, rapl_zones
from telemetry.models import Device, DeviceKind
from telemetry.queries import energy
from telemetry.rollups import roll_up_pending
from tests.telemetry.helpers import enrolled_client, envelope, post, simulated_samples

MAX_UJ = 262_143_328_850  # a typical package counter range


def zone(root: Path, name: str, label: str, energy_uj: int, max_uj: int = MAX_UJ) -> Path:
    path = root / name
    path.mkdir(parents=True)
    (path / "name").write_text(label + "\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    return path


def set_energy(path: Path, energy_uj: int) -> None:
    (path / "energy_uj").write_text(f"{energy_uj}\n")


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "powercap"
    zones = {
        "pkg0": zone(root, "intel-rapl:0", "package-0", 1_000_000),
        "core": zone(root, "intel-rapl:0:0", "core", 500_000),  # inside the package: not counted twice
        "dram0": zone(root, "intel-rapl:0:1", "dram", 2_000_000),
        "pkg1": zone(root, "intel-rapl:1", "package-1", MAX_UJ - 1_000_000),  # about to wrap
        "psys": zone(root, "intel-rapl:2", "psys", 9_000_000),  # the whole platform: not counted twice
    }
    return root, zones


def test_packages_and_dram_are_read_and_wraps_are_handled(sysfs):
    root, zones = sysfs
    assert [z.name for z in rapl_zones(root)] == ["package-0", "dram", "package-1"]
    clock = ManualClock(1000.0)
    host = RaplHost(rapl_zones(root), hostname="gpu-1", clock=clock)
    first, errors = host.read()
    assert errors == [] and first[0].device == "HOST-gpu-1-rapl"
    clock.now += 10
    set_energy(zones["pkg0"], 1_000_000 + 2_000_000_000)  # +2,000 J
    set_energy(zones["dram0"], 2_000_000 + 500_000_000)  # +500 J
    set_energy(zones["pkg1"], 1_000_000_000)  # wrapped: +1,000,000 µJ to the top, then +1,000 J
    second, _ = host.read()
    delta_j = (second[0].energy_mj - first[0].energy_mj) / 1000
    assert delta_j == pytest.approx(2000 + 500 + 1 + 1000)
    assert second[0].power_w == pytest.approx(delta_j / 10)
    assert host.info.kind == "host"


def test_a_machine_without_rapl_leaves_host_energy_to_the_server(tmp_path):
    assert host_energy(tmp_path / "nothing-here") is None


def test_unreadable_counters_are_reported_not_fatal(sysfs):
    root, zones = sysfs
    host = RaplHost(rapl_zones(root), hostname="gpu-1")
    (zones["dram0"] / "energy_uj").unlink()
    readings, errors = host.read()
    assert readings == [] and "HOST-gpu-1-rapl" in errors[0]


def test_with_host_adds_the_host_to_the_gpus(sysfs):
    root, _ = sysfs
    gpus = SimulatedBackend(2, seed=3)
    combined = WithHost(gpus, RaplHost(rapl_zones(root), hostname="gpu-1"))
    assert [d.kind for d in combined.devices()] == ["gpu", "gpu", "host"]
    readings, _ = combined.read()
    assert len(readings) == 3


def test_host_energy_is_stored_and_kept_apart_from_accelerator_energy(db, settings):
    settings.TELEMETRY_ROLLUP_INLINE = False
    start = time.time() - 700
    clock = ManualClock(start)
    backend = SimulatedBackend(2, seed=5, clock=clock, host=True)
    client, _ = enrolled_client()
    samples = simulated_samples(backend, clock, 600, step=5)
    assert post(client, envelope(backend, 1, samples)).status_code == 200
    roll_up_pending()
    assert Device.objects.get(uuid="HOST-SIM0005-rapl").kind == DeviceKind.HOST
    result = energy(
        start=datetime.fromtimestamp(start - 60, UTC), end=datetime.fromtimestamp(start + 700, UTC), labels=["run-1"]
    )
    truth_gpu_j = sum(g.energy_j - 1_000_000.0 * (g.index + 1) for g in backend.gpus)
    truth_host_j = backend.host.energy_j - 5_000_000.0
    assert result.devices == 2 and result.host_devices == 1
    assert result.energy_kwh * 3.6e6 == pytest.approx(truth_gpu_j, rel=0.02)
    assert result.host_energy_kwh * 3.6e6 == pytest.approx(truth_host_j, rel=0.02)


def test_a_device_of_an_unknown_kind_is_refused(db):
    clock = ManualClock(time.time() - 100)
    backend = SimulatedBackend(1, seed=6, clock=clock)
    client, _ = enrolled_client()
    body = envelope(backend, 1, simulated_samples(backend, clock, 10))
    body["devices"][0]["kind"] = "toaster"
    response = post(client, body)
    assert response.status_code == 400 and "kind must be one of" in str(response.json())
