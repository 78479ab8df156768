"""Machine-readable exports of a version's figures, one source of truth (the snapshot a
review froze): a CycloneDX 1.6 ML-BOM, an SPDX 3.0.1 AI package, a Green Software
Foundation Impact Framework manifest and the Hugging Face `co2_eq_emissions` block.
Each is rendered to bytes once, so that its SHA-256 names exactly what is served."""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import datetime
from typing import Any

import yaml
from spdx_python_model import v3_0_1 as spdx

from governance.models import ImpactReview, ModelVersion, Stage

GREENLIGHT = "Greenlight"
# The snapshot's stage labels → each format's activity.
ACTIVITY = {Stage.PRETRAINING.label: "training", Stage.FINE_TUNING.label: "fine-tuning"}
NAMESPACE = uuid.UUID("5d3c8a52-6f0e-4c1e-9b7a-0c4b1f2e9d10")  # a fixed namespace: serial numbers from digests


def _runs_by_activity(figures: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for run in figures["runs"]:
        by.setdefault(ACTIVITY.get(run["stage"], "other"), []).append(run)
    return by


def _kwh(runs: list[dict[str, Any]]) -> float:
    """Facility energy of these runs (central values)."""
    return float(sum(r["facility_energy_kwh"]["central"] for r in runs))


def cyclonedx(version: ModelVersion, figures: dict[str, Any], digest: str, created: datetime) -> dict[str, Any]:
    """A CycloneDX 1.6 ML-BOM: the model as a component whose model card's environmental
    considerations list energy by activity (facility boundary, location-based carbon)."""
    consumptions = []
    for activity, runs in sorted(_runs_by_activity(figures).items()):
        providers: dict[str, float] = {}
        for r in runs:
            providers[r["facility"]["supplier"]] = (
                providers.get(r["facility"]["supplier"], 0.0) + (r["facility_energy_kwh"]["central"])
            )
        consumptions.append(
            {
                "activity": activity,
                "energyProviders": [
                    {
                        "organization": {"name": name},
                        "energySource": "unknown",  # grid mix: see the location-based carbon
                        "energyProvided": {"value": kwh, "unit": "kWh"},
                    }
                    for name, kwh in sorted(providers.items())
                ],
                "activityEnergyCost": {"value": _kwh(runs), "unit": "kWh"},
                "co2CostEquivalent": {
                    "value": sum(r["location_based_kgco2e"]["central"] for r in runs) / 1000,
                    "unit": "tCO2eq",
                },
            }
        )
    for d in figures.get("deployments", []):
        energy = (d.get("energy_by_boundary") or {}).get("facility_kwh")
        if energy:
            consumptions.append(
                {
                    "activity": "inference",
                    "energyProviders": [
                        {
                            "organization": {"name": d["name"]},
                            "energySource": "unknown",
                            "energyProvided": {"value": energy, "unit": "kWh"},
                        }
                    ],
                    "activityEnergyCost": {"value": energy, "unit": "kWh"},
                }
            )
    component: dict[str, Any] = {
        "type": "machine-learning-model",
        "bom-ref": f"model-version-{version.pk}",
        "name": version.registered_model.name,
        "version": version.version,
        "modelCard": {
            "considerations": {
                "environmentalConsiderations": {
                    "energyConsumptions": consumptions,
                    "properties": [
                        {"name": "greenlight:boundary", "value": "accelerators + host, times PUE (facility)"},
                        {"name": "greenlight:carbon-basis", "value": "location-based"},
                        {"name": "greenlight:snapshot-sha256", "value": digest},
                    ],
                }
            }
        },
    }
    if version.artifact_sha256:
        component["hashes"] = [{"alg": "SHA-256", "content": version.artifact_sha256}]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": f"urn:uuid:{uuid.uuid5(NAMESPACE, digest)}",
        "version": 1,
        "metadata": {
            "timestamp": created.isoformat(),
            "tools": {"components": [{"type": "application", "name": GREENLIGHT}]},
        },
        "components": [component],
    }


def spdx_document(version: ModelVersion, figures: dict[str, Any], digest: str, created: datetime) -> bytes:
    """An SPDX 3.0.1 AI package with its energy consumption in kWh (training, fine-tuning,
    inference), built and serialised by SPDX's own Python bindings."""
    base = f"urn:greenlight:snapshot:{digest}"
    tool = spdx.Tool(spdxId=f"{base}#tool", name=GREENLIGHT)
    info = spdx.CreationInfo(specVersion="3.0.1", created=created, createdBy=[f"{base}#org"], createdUsing=[tool])
    tool.creationInfo = info
    org = spdx.Organization(spdxId=f"{base}#org", name=version.project.name, creationInfo=info)

    def described(kwh: float) -> Any:
        return spdx.ai_EnergyConsumptionDescription(
            ai_energyQuantity=kwh, ai_energyUnit=spdx.ai_EnergyUnitType.kilowattHour
        )

    by = _runs_by_activity(figures)
    inference = [
        d["energy_by_boundary"]["facility_kwh"] for d in figures.get("deployments", []) if d.get("energy_by_boundary")
    ]
    energy = spdx.ai_EnergyConsumption(
        ai_trainingEnergyConsumption=[described(_kwh(by["training"]))] if "training" in by else [],
        ai_finetuningEnergyConsumption=[described(_kwh(by["fine-tuning"]))] if "fine-tuning" in by else [],
        ai_inferenceEnergyConsumption=[described(kwh) for kwh in inference],
    )
    package = spdx.ai_AIPackage(
        spdxId=f"{base}#model",
        name=version.registered_model.name,
        software_packageVersion=version.version,
        software_primaryPurpose=spdx.software_SoftwarePurpose.model,
        software_downloadLocation=version.source_uri or f"urn:greenlight:model-version:{version.pk}",
        suppliedBy=org,
        releaseTime=created,
        creationInfo=info,
        ai_energyConsumption=energy,
        comment="Energy: accelerators + host, times the facility's PUE; central values of Greenlight's ranges.",
    )
    if version.artifact_sha256:
        package.verifiedUsing = [spdx.Hash(algorithm=spdx.HashAlgorithm.sha256, hashValue=version.artifact_sha256)]
    document = spdx.SpdxDocument(
        spdxId=f"{base}#document",
        name=f"{version} energy",
        creationInfo=info,
        rootElement=[package],
        element=[package, org, tool],
        profileConformance=[
            spdx.ProfileIdentifierType.core,
            spdx.ProfileIdentifierType.software,
            spdx.ProfileIdentifierType.ai,
        ],
    )
    objects = spdx.SHACLObjectSet()
    for o in (document, package, org, tool):
        objects.add(o)
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, out, indent=2)
    return out.getvalue()


def impact_manifest(version: ModelVersion, figures: dict[str, Any], digest: str) -> str:
    """An Impact Framework manifest whose builtin plugins recompute the carbon: energy ×
    grid intensity + embodied per run, and per request for each deployment (SCI)."""
    plugins = {
        "operational-carbon": {
            "method": "Multiply",
            "path": "builtin",
            "config": {
                "input-parameters": ["energy", "grid/carbon-intensity"],
                "output-parameter": "carbon-operational",
            },
        },
        "carbon": {
            "method": "Sum",
            "path": "builtin",
            "config": {"input-parameters": ["carbon-operational", "carbon-embodied"], "output-parameter": "carbon"},
        },
        "sci": {"method": "Sci", "path": "builtin", "config": {"functional-unit": "requests"}},
    }
    training = {}
    for run in figures["runs"]:
        training[f"run-{run['run']}"] = {
            "pipeline": {"compute": ["operational-carbon", "carbon"]},
            "inputs": [
                {
                    "timestamp": run["compute"]["started_at"],
                    "duration": _seconds(run["compute"]["started_at"], run["ended_at"]),
                    "energy": run["facility_energy_kwh"]["central"],  # kWh, facility boundary
                    "grid/carbon-intensity": run["facility"]["intensity_g_per_kwh"],  # gCO2e/kWh, location-based
                    "carbon-embodied": (run.get("embodied_kgco2e") or {"central": 0.0})["central"] * 1000,  # g
                }
            ],
        }
    serving = {}
    for d in figures.get("deployments", []):
        if d.get("energy_by_boundary") and d["requests"]:
            serving[d["label"]] = {
                "pipeline": {"compute": ["operational-carbon", "carbon", "sci"]},
                "inputs": [
                    {
                        "timestamp": d["window_start"],
                        "duration": _seconds(d["window_start"], d["window_end"]),
                        "energy": d["energy_by_boundary"]["facility_kwh"],
                        "grid/carbon-intensity": d["intensity_g_per_kwh"],
                        "carbon-embodied": d["embodied_kgco2e"] * 1000,
                        "requests": d["requests"],
                    }
                ],
            }
    children = {"training": {"children": training}} if training else {}
    if serving:
        children["serving"] = {"children": serving}
    manifest = {
        "name": f"{version} footprint",
        "description": f"Greenlight figures of {version} (snapshot sha256 {digest}): energy in kWh at the facility "
        "boundary, location-based carbon in gCO2e, embodied hardware carbon amortised.",
        "tags": {"kind": "ml-model", "complexity": "simple", "category": "on-premise"},
        "initialize": {"plugins": plugins},
        "tree": {"children": children},
    }
    return yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)


def _seconds(start: str, end: str) -> int:
    return max(1, round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()))


def render_all(review: ImpactReview, card_yaml: str, created: datetime) -> dict[str, tuple[str, bytes]]:
    """Every export of the review's frozen figures: kind → (file name, bytes)."""
    version, figures, digest = review.model_version, review.snapshot or {}, review.snapshot_digest
    if figures.get("format", 0) < 4:
        return {}
    stem = f"{version.registered_model.name}-{version.version}"
    return {
        "cyclonedx": (
            f"{stem}.cdx.json",
            json.dumps(cyclonedx(version, figures, digest, created), indent=2, sort_keys=True).encode(),
        ),
        "spdx": (f"{stem}.spdx3.json", spdx_document(version, figures, digest, created)),
        "impact-manifest": (f"{stem}.impact.yml", impact_manifest(version, figures, digest).encode()),
        "model-card": (f"{stem}.model-card.yaml", card_yaml.encode()),
    }


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
