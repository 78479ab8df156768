"""What a run's footprint covers: the accelerators measured, the host measured or
estimated (and said which), the host model named, nothing depending on row order."""

import pytest

from lca.models import HardwareModel
from tests.workflow import measured_run


def run_result(pipeline, version, label):
    footprint = pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    return next(r for r in footprint["runs"] if r["label"].endswith(f"/{label}"))


def part(result, name):
    return next(p for p in result["result"]["parts"] if p["name"] == name)


def test_a_measured_run_counts_its_hosts_measured_energy(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "with-rapl", host_telemetry=True)
    run = run_result(pipeline, version, "with-rapl")
    accelerators, host = part(run, "accelerators"), part(run, "host")
    assert accelerators["how"] == "measured" and host["how"] == "measured"
    assert "host measured (RAPL)" in run["note"]
    # the simulated host draws 180 W + 30% of its GPUs' power: about 0.4 of the accelerators at load
    ratio = host["it_energy_kwh"]["central"] / accelerators["it_energy_kwh"]["central"]
    assert 0.3 < ratio < 0.6
    total = accelerators["facility_energy_kwh"]["central"] + host["facility_energy_kwh"]["central"]
    assert run["result"]["facility_energy_kwh"]["central"] == pytest.approx(total)


def test_without_host_telemetry_the_host_share_is_estimated_and_labelled(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "gpus-only")
    run = run_result(pipeline, version, "gpus-only")
    accelerators, host = part(run, "accelerators"), part(run, "host")
    assert accelerators["how"] == "measured" and host["how"] == "estimated"
    assert "host estimated" in run["note"]
    share = host["it_energy_kwh"]
    assert share["low"] < share["central"] < share["high"]  # a range, from the overhead's sources
    overhead = next(f for f in run["result"]["factors"] if f["name"] == "host energy overhead")
    assert "Google production serving" in overhead["source"]
    # Before, a measured run was accelerator energy × PUE alone: now the host is on top.
    gpu_kwh = accelerators["it_energy_kwh"]["central"]
    assert run["result"]["it_energy_kwh"]["central"] == pytest.approx(gpu_kwh * 1.43)


def test_an_unrelated_host_row_changes_no_footprint(world):
    _, _, version, pipeline = world
    measured_run(pipeline, version, "stable")
    before = pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    HardwareModel.objects.create(  # sorts before every shipped host
        slug="aaa-giant-host", name="A giant host", kind="host", vendor="x", embodied_central_kgco2e=99_999
    )
    after = pipeline.get(f"/api/v1/model-versions/{version.pk}/footprint/").json()
    assert after["totals"] == before["totals"]
    assert any("Host model not named" in n for n in after["runs"][0]["result"]["notes"])


def test_a_run_names_its_host_model(world):
    _, _, version, pipeline = world
    big = HardwareModel.objects.create(
        slug="p5-host",
        name="p5.48xlarge without GPUs",
        kind="host",
        vendor="AWS",
        embodied_central_kgco2e=5700,
        lifetime_years=6,
    )
    measured_run(pipeline, version, "named-host", host=big.slug)
    run = run_result(pipeline, version, "named-host")
    names = [f["name"] for f in run["result"]["factors"]]
    assert "embodied carbon, p5.48xlarge without GPUs" in names
    assert not any("Host model not named" in n for n in run["result"]["notes"])
    assert pipeline.get("/api/v1/runs/").json()["results"][0]["host"] == "p5-host"


def test_a_pre_run_estimate_is_checked_when_the_run_opens_and_used_when_no_telemetry_came(world):
    _, _, version, pipeline = world
    body = {
        "model_version": version.pk,
        "stage": "fine_tuning",
        "facility": "gcp-europe-west1",
        "hardware": "h100-sxm",
        "accelerator_count": 2,
        "label": "aurora/with-estimate",
    }
    bad = pipeline.post("/api/v1/runs/", {**body, "estimate": {"tokens": 1e9, "mfu": 2}}, format="json")
    assert bad.status_code == 400
    errors = bad.json()["errors"]["estimate"]
    assert any(e.startswith("tokens:") for e in errors) or any("active_parameters" in e for e in errors), errors
    bad = pipeline.post(
        "/api/v1/runs/", {**body, "estimate": {"accelerator_hours": 10, "mfu": 2, "hardware": "nope"}}, format="json"
    )
    assert [e.split(":")[0] for e in bad.json()["errors"]["estimate"]] == ["hardware"]  # no such hardware
    bad = pipeline.post("/api/v1/runs/", {**body, "estimate": {"accelerator_hours": 10, "mfu": 2}}, format="json")
    assert bad.json()["errors"]["estimate"] == ["mfu: A share cannot exceed 1."]

    estimate = {"accelerator_hours": 10, "hardware": "h100-sxm", "facility": "gcp-europe-west1"}
    run = pipeline.post("/api/v1/runs/", {**body, "estimate": estimate}, format="json").json()
    footprint = pipeline.get(f"/api/v1/runs/{run['id']}/").json()["footprint"]
    assert footprint["source"] == "estimate" and "pre-run estimate" in footprint["note"]
    assert footprint["result"]["accelerator_hours"]["central"] == 10
