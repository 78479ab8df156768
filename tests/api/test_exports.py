"""The machine-readable exports of an audit report, each checked by its own maintained tool:
CycloneDX's JSON-schema validator, SPDX's Python bindings, and the Impact Framework CLI
(`if-run`, npm @grnsft/if, installed by `make test`), whose computed carbon must agree
with Greenlight's within 1%."""

import io
import json
import math
import subprocess
from pathlib import Path

import pytest
import yaml
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from django.conf import settings
from spdx_python_model import v3_0_1 as spdx

from governance.models import AuditEvent, AuditReport
from governance.services.exports import sha256
from tests.api.test_audit_report import pdf_text
from tests.conftest import client_for
from tests.workflow import approved_review, measured_run, serve

IF_RUN = Path(settings.BASE_DIR) / "node_modules" / ".bin" / "if-run"


@pytest.fixture
def report(world):
    team, second_lead, version, pipeline = world
    version.artifact_sha256 = "ab" * 32
    version.save()
    measured_run(pipeline, version, "ft-export", seconds=600)
    serve(pipeline, version, "serve-export", tokens=40_000)
    review_id = approved_review(team, second_lead, version)
    return team, AuditReport.objects.get(review_id=review_id)


def download(team, report, kind):
    answer = client_for(team.auditor).get(f"/api/v1/reports/{report.pk}/{kind}/")
    assert answer.status_code == 200, kind
    assert answer.get("X-Content-SHA256", sha256(answer.content)) == sha256(answer.content)
    return answer.content


def test_each_export_is_listed_in_the_report_with_its_digest_and_chained(report):
    team, report = report
    listed = report.export["exports"]
    assert set(listed) == {"cyclonedx", "spdx", "impact-manifest", "model-card"}
    text = pdf_text(bytes(report.pdf)).replace("\n", " ")
    chained = AuditEvent.objects.get(action="report.generated", object_id=str(report.pk)).payload["exports"]
    for kind, export in listed.items():
        content = download(team, report, kind)
        assert sha256(content) == export["sha256"] == chained[export["file"]]
        assert export["sha256"][:32] in text.replace(" ", "")  # printed in the report (wrapped as it may be)
    assert "EU AI Act model documentation" in text and "SCI for AI" in text


def test_cyclonedx_ml_bom_is_valid_and_says_what_the_snapshot_says(report):
    team, report = report
    content = download(team, report, "cyclonedx")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(content.decode()) is None
    bom = json.loads(content)
    (model,) = bom["components"]
    assert model["type"] == "machine-learning-model" and model["hashes"][0]["content"] == "ab" * 32
    energy = model["modelCard"]["considerations"]["environmentalConsiderations"]["energyConsumptions"]
    by = {e["activity"]: e for e in energy}
    snapshot = report.review.snapshot
    training_kwh = sum(r["facility_energy_kwh"]["central"] for r in snapshot["runs"])
    assert math.isclose(by["fine-tuning"]["activityEnergyCost"]["value"], training_kwh)
    assert by["fine-tuning"]["activityEnergyCost"]["unit"] == "kWh" and "inference" in by
    # The Hugging Face block and the BOM give the same training carbon.
    card = yaml.safe_load(download(team, report, "model-card"))
    assert math.isclose(
        by["fine-tuning"]["co2CostEquivalent"]["value"] * 1e6, card["co2_eq_emissions"]["emissions"], rel_tol=1e-3
    )


def test_spdx_ai_package_reads_back_with_spdx_bindings(report):
    team, report = report
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(download(team, report, "spdx")), objects)
    (package,) = list(objects.foreach_type(spdx.ai_AIPackage))
    assert package.name == "aurora" and package.software_packageVersion == "2.0"
    energy = package.ai_energyConsumption
    (finetuning,) = energy.ai_finetuningEnergyConsumption
    assert finetuning.ai_energyUnit == spdx.ai_EnergyUnitType.kilowattHour
    snapshot = report.review.snapshot
    assert math.isclose(
        finetuning.ai_energyQuantity, sum(r["facility_energy_kwh"]["central"] for r in snapshot["runs"])
    )
    assert len(energy.ai_inferenceEnergyConsumption) == 1 and not energy.ai_trainingEnergyConsumption
    # Written again by the bindings (which check each property's count and type on the way out).
    spdx.JSONLDSerializer().write(objects, io.BytesIO())


@pytest.mark.skipif(not IF_RUN.exists(), reason="needs node_modules (make test installs the Impact Framework)")
def test_the_impact_framework_computes_greenlights_carbon(report, tmp_path):
    team, report = report
    manifest = tmp_path / "manifest.yml"
    manifest.write_bytes(download(team, report, "impact-manifest"))
    done = subprocess.run(
        [str(IF_RUN), "--manifest", str(manifest), "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    computed = yaml.safe_load((tmp_path / "out.yaml").read_text())["tree"]["children"]
    snapshot = report.review.snapshot
    for run in snapshot["runs"]:
        (out,) = computed["training"]["children"][f"run-{run['run']}"]["outputs"]
        ours = (run["location_based_kgco2e"]["central"] + run["embodied_kgco2e"]["central"]) * 1000
        assert math.isclose(out["carbon"], ours, rel_tol=0.01), (out, ours)
    (deployment,) = snapshot["deployments"]
    (out,) = computed["serving"]["children"][deployment["label"]]["outputs"]
    sci = client_for(team.auditor).get(f"/api/v1/model-versions/{report.review.model_version_id}/disclosures/").json()
    per_request = {s["functional_unit"]: s["g_co2e"] for s in sci["sci_for_ai"]["consumer"][0]["scores"]}[
        "request (model call)"
    ]
    assert math.isclose(out["sci"], per_request, rel_tol=0.01), (out["sci"], per_request)
