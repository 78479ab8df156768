"""Documents that regulators and standards define, built from a version's figures (the
stored snapshot, or the one a review froze): the EU AI Act model documentation's
compute, time and energy rows with their checks; the SCI for AI scores; and each
per-unit energy figure on its declared boundary beside published reference points."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from governance.models import ImpactReview, ModelVersion, Run, RunStatus, Stage
from governance.services import ledger
from lca import disclosure as rules
from lca.reference import DATA
from lca.services import DEFAULT_TRAINING_MFU, DEFAULT_TRAINING_MFU_SOURCE

TRAINING_STAGES = {Stage.PRETRAINING.label, Stage.FINE_TUNING.label, Stage.DATA_PREPARATION.label, Stage.OTHER.label}
REFERENCE_POINTS: list[dict[str, Any]] = json.loads((DATA / "reference_points.json").read_text())
METHOD_TEXT = {  # telemetry.models.Method, as the methodology text says it
    "counter": "the deltas of the GPUs' cumulative energy counters",
    "power": "sampled power integrated over time (no energy counter)",
    "mixed": "energy-counter deltas, and power integrated over time where a GPU had no counter",
}
CONSUMER_UNITS = {
    "tokens": "1,000 tokens (input + output)",
    "requests": "request (model call)",
    "workflows": "workflow execution (every model call it made)",
}


def _central(value: Any) -> float | None:
    central = value["central"] if isinstance(value, dict) else value
    return None if central is None else float(central)


FROZEN_EARLIER = "Frozen before Greenlight kept each run's compute and energy by boundary (snapshot format 4)."


def disclosures(version: ModelVersion, figures: dict[str, Any], *, run_count: int | None = None) -> dict[str, Any]:
    """Everything this module builds, from one set of figures: what the disclosures page,
    the API and the audit report show."""
    if figures.get("format", 0) < 4:
        return {"available": False, "reason": FROZEN_EARLIER}
    return {
        "available": True,
        "eu_documentation": eu_documentation(version, figures, run_count=run_count),
        "eu_lineage": eu_lineage(version),
        "sci_for_ai": sci_for_ai(figures),
        "declared_boundaries": declared_boundaries(figures),
        "run_boundaries": run_boundaries(figures),
        "reference_points": REFERENCE_POINTS,
    }


def of_review(review: ImpactReview) -> dict[str, Any]:
    """What reviewers sign: the frozen figures once submitted (every run they froze is
    counted, so the run count is theirs), the version's stored figures while a draft."""
    version = review.model_version
    if review.snapshot:
        return disclosures(version, review.snapshot, run_count=len(review.snapshot.get("runs", [])))
    return disclosures(version, ledger.version_snapshot(version))


# --- EU AI Act model documentation: compute, time and energy ---


def eu_documentation(version: ModelVersion, figures: dict[str, Any], *, run_count: int | None = None) -> dict[str, Any]:
    """The form's rows for `version` from `figures` (its snapshot), and the checks. Its
    ancestors' rows come separately, from their own figures (see `eu_lineage`)."""
    if figures.get("format", 0) < 4:
        return {"available": False, "reason": FROZEN_EARLIER}
    runs = [r for r in figures["runs"] if r["stage"] in TRAINING_STAGES]
    time = _training_time(runs)
    compute = _training_compute(runs, figures)
    energy = _training_energy(runs)
    inference = _inference(figures)
    if run_count is None:
        run_count = Run.objects.filter(model_version_id=figures["version"]).count()
    checks = _checks(figures, run_count, compute, energy)
    return {
        "available": True,
        "version": str(version),
        "training_runs": len(runs),
        "training_time": time,
        "training_compute": compute,
        "training_energy": energy,
        "inference_compute": inference,
        "checks": checks,
        "passed": all(c["passed"] for c in checks),
    }


def _training_time(runs: list[dict[str, Any]]) -> dict[str, Any]:
    intervals = [
        (datetime.fromisoformat(r["compute"]["started_at"]), datetime.fromisoformat(r["ended_at"])) for r in runs
    ]
    days = rules.wall_clock_days(intervals)
    hardware_days = sum(r["compute"]["accelerator_hours"] for r in runs) / 24
    kinds = sorted({r["hardware"].split(" x ", 1)[-1] for r in runs})
    return {
        "wall_clock_days": rules.significant(days, rules.TIME_SIGNIFICANT),
        "hardware_days": rules.significant(hardware_days, rules.TIME_SIGNIFICANT),
        "hardware": ", ".join(kinds) or "none",
        "national_class": rules.time_class(days),
        "text": f"{rules.decimal(days, rules.TIME_SIGNIFICANT)} wall-clock days (overlapping runs counted once); "
        f"{rules.decimal(hardware_days, rules.TIME_SIGNIFICANT)} accelerator-days on {', '.join(kinds)}"
        if runs
        else "No training run recorded.",
    }


def _training_compute(runs: list[dict[str, Any]], figures: dict[str, Any]) -> dict[str, Any]:
    architecture = figures.get("training_flops")
    model = figures["model"]
    known = [r for r in runs if r["compute"]["peak_tflops"]]
    hardware: dict[str, Any] | None = None
    if runs and len(known) == len(runs):
        rows = [(r["compute"]["accelerator_hours"], r["compute"]["peak_tflops"]) for r in runs]
        mfu = DEFAULT_TRAINING_MFU
        hardware = {
            "central": rules.hardware_flops(rows, mfu.central),
            "low": rules.hardware_flops(rows, mfu.low),
            "high": rules.hardware_flops(rows, mfu.high),
            "utilisation": mfu.central,
            "utilisation_source": DEFAULT_TRAINING_MFU_SOURCE,
        }
    reported: float | None = architecture or (hardware["central"] if hardware else None)
    n = model["active_parameters"] or model["parameters"]
    architecture_text = (
        f"6 × N × D with N = {n:,} {'active ' if model['active_parameters'] else ''}parameters and "
        f"D = {model['training_tokens']:,} training tokens"
        if architecture
        else "not available: the version records no training-token count"
    )
    hardware_text = (
        f"accelerator-hours × peak dense BF16 FLOP/s × {DEFAULT_TRAINING_MFU.central:.0%} utilisation "
        f"(range {DEFAULT_TRAINING_MFU.low:.0%}–{DEFAULT_TRAINING_MFU.high:.0%})"
        if hardware
        else "not available: " + ("no training run" if not runs else "a run's hardware has no published peak FLOP/s")
    )
    return {
        "flops": reported,
        "ai_office": rules.scientific(reported, rules.FLOPS_SIGNIFICANT) + " FLOPs" if reported else "N/A",
        "national": rules.order_of_magnitude(reported) + " FLOPs" if reported else "N/A",
        "architecture_flops": architecture,
        "hardware_flops": hardware,
        "methodology": f"Reported: the {'architecture' if architecture else 'hardware'}-based estimate. "
        f"Architecture-based: {architecture_text}. Hardware-based: {hardware_text}, summed over every training run "
        "(failed and abandoned ones included).",
    }


def _training_energy(runs: list[dict[str, Any]]) -> dict[str, Any]:
    if not runs:
        return {"mwh": None, "ai_office": "N/A", "reason": "No training run recorded.", "methodology": ""}
    withheld = [
        r for r in runs if r["source"] != "telemetry" and (r.get("supplier_data") or {}).get("state") == "refused"
    ]
    mwh = sum(r["facility_energy_kwh"]["central"] for r in runs) / 1000
    measured = [r for r in runs if r["source"] == "telemetry"]
    how = "measured" if len(measured) == len(runs) else "estimated" if not measured else "measured and estimated"
    methodology = _energy_methodology(runs, measured)
    if mwh <= 0:
        reason = "The training runs recorded no energy: neither telemetry nor an estimate."
        return {"mwh": None, "ai_office": "N/A", "how": how, "reason": reason, "methodology": methodology}
    if withheld:
        d = withheld[0]["supplier_data"]
        reason = (
            f"{d['supplier']} refused {d['what']} (asked {d['requested_on']}, refused {d['answered_on']}"
            + (f": “{d['note']}”" if d["note"] else "")
            + f"); {len(withheld)} run(s) could be neither measured nor documented."
        )
        return {"mwh": None, "ai_office": "N/A", "how": how, "reason": reason, "methodology": methodology}
    return {
        "mwh": rules.significant(mwh, rules.ENERGY_SIGNIFICANT),
        "ai_office": f"{rules.decimal(mwh, rules.ENERGY_SIGNIFICANT)} MWh ({how})",
        "how": how,
        "reason": "",
        "methodology": methodology,
    }


def _energy_methodology(runs: list[dict[str, Any]], measured: list[dict[str, Any]]) -> str:
    methods = sorted({r["method"] for r in measured})
    estimated = len(runs) - len(measured)
    pues = ", ".join(f"{p:g}" for p in sorted({r["facility"]["pue"] for r in runs if r["facility"]["pue"]}))
    statuses = sorted({r["status"] for r in runs})
    host_measured = sum(1 for r in runs if any(p["name"] == "host" and p["how"] == "measured" for p in r["parts"]))
    parts = [
        f"Energy of {len(runs)} training run(s) ({', '.join(statuses)}: failed and abandoned runs count as well).",
        f"{len(measured)} measured by telemetry from the accelerators' own meters: "
        + "; ".join(METHOD_TEXT.get(m, m) for m in methods)
        + ", with the sample coverage of each recorded."
        if measured
        else "",
        f"{estimated} estimated from accelerator-hours, the hardware's rated power and its utilisation, "
        "or from compute (FLOPs ÷ peak FLOP/s ÷ utilisation) where no meter was available."
        if estimated
        else "",
        f"Host CPU and memory: measured by RAPL counters on {host_measured} run(s), otherwise estimated as a share of "
        "the server's power.",
        f"Boundary: accelerators + host, times the facility's PUE ({pues or 'a default'}); "
        "embodied hardware energy is not included. Figures are the central values of ranges kept with the review.",
    ]
    return " ".join(p for p in parts if p)


def _inference(figures: dict[str, Any]) -> list[dict[str, Any]]:
    model = figures["model"]
    n = model["active_parameters"] or model["parameters"]
    rows = []
    for d in figures.get("deployments", []):
        flops = 2 * n * 1000
        rows.append(
            {
                "task": f"text generation, 1,000 tokens (input + output) as served by “{d['name']}”",
                "hardware": d["hardware"],
                "flops_per_1k_tokens": flops,
                "ai_office": rules.scientific(flops, rules.FLOPS_SIGNIFICANT) + " FLOPs per 1,000 tokens",
                "methodology": f"2 × N FLOPs per token with N = {n:,} parameters; tokens counted by the inference "
                f"server ({d['tokens']:,} over its usage windows)",
            }
        )
    return rows


def _checks(
    figures: dict[str, Any], run_count: int, compute: dict[str, Any], energy: dict[str, Any]
) -> list[dict[str, Any]]:
    checks = []
    hardware, architecture = compute["hardware_flops"], compute["architecture_flops"]
    if hardware and architecture:
        a = rules.agreement(hardware["central"], architecture)
        checks.append(
            {
                "check": "compute_cross_check",
                "passed": a.within_tolerance,
                "message": (
                    f"Hardware-based {rules.scientific(a.hardware_flops, 2)} and architecture-based "
                    f"{rules.scientific(a.architecture_flops, 2)} FLOPs "
                    + (
                        "agree within ±30%."
                        if a.within_tolerance
                        else f"differ by ×{a.ratio:.2g}, beyond the ±30% the Commission's guidelines allow: "
                        "check the training tokens, the runs' hardware and hours, or the utilisation."
                    )
                ),
            }
        )
    else:
        checks.append(
            {
                "check": "compute_cross_check",
                "passed": False,
                "message": "Training compute cannot be estimated two ways: "
                + ("no training-token count. " if not architecture else "")
                + ("a run's hardware has no peak FLOP/s, or there is no run." if not hardware else ""),
            }
        )
    frozen_runs = len(figures["runs"])
    running = [r["label"] for r in figures["runs"] if r["status"] == RunStatus.RUNNING]
    counted = frozen_runs == run_count and not running
    checks.append(
        {
            "check": "every_run_counted",
            "passed": counted,
            "message": f"All {run_count} run(s) counted, failed and abandoned ones included."
            if counted
            else f"{frozen_runs} of {run_count} run(s) in the figures"
            + (f"; still running: {', '.join(running)}" if running else "")
            + ": close every run (as failed or abandoned if need be) before documenting.",
        }
    )
    checks.append(
        {
            "check": "energy_reported",
            "passed": energy["mwh"] is not None and energy["mwh"] > 0,
            "message": f"Training energy {energy['ai_office']}, to at least two significant figures."
            if energy["mwh"]
            else f"Training energy is N/A: {energy['reason']}",
        }
    )
    return checks


def eu_lineage(version: ModelVersion) -> list[dict[str, Any]]:
    """The ancestors' rows, each from its own stored figures, nearest first."""
    return [eu_documentation(base, ledger.version_snapshot(base)) for base in version.lineage()]


# --- SCI for AI ---


def sci_for_ai(figures: dict[str, Any]) -> dict[str, Any]:
    """The Consumer score per functional unit of each deployment and the Provider score of
    training: location-based, embodied included, no certificates or offsets, and training
    never amortised into the Consumer score (SCI for AI, 2025; ISO/IEC 21031:2024)."""
    consumer = []
    for d in figures.get("deployments", []):
        total = _central(d.get("sci_kgco2e"))
        if total is None:
            consumer.append({"deployment": d["name"], "available": False, "reason": d["note"]})
            continue
        counts = {"tokens": d["tokens"] / 1000, "requests": d["requests"], "workflows": d["workflow_executions"]}
        scores = [
            {
                "functional_unit": CONSUMER_UNITS[unit],
                "g_co2e": total * 1000 / count,
                "primary": unit == d["functional_unit"],  # how the service is used
            }
            for unit, count in counts.items()
            if count
        ]
        missing = [CONSUMER_UNITS[unit] for unit, count in counts.items() if not count]
        consumer.append(
            {
                "deployment": d["name"],
                "available": True,
                "functional_unit": CONSUMER_UNITS[d["functional_unit"]],
                "scores": scores,
                "not_reported": [f"Per {unit}: not reported — none counted in the usage windows." for unit in missing],
            }
        )
    training = [r for r in figures["runs"] if r["stage"] in TRAINING_STAGES]
    operational = sum(r["location_based_kgco2e"]["central"] for r in training)
    embodied = sum(_central(r.get("embodied_kgco2e")) or 0.0 for r in training)
    total = operational + embodied
    model = figures["model"]
    provider = []
    if training:
        if figures.get("training_flops"):
            provider.append(("FLOP", figures["training_flops"], "6·N·D"))
        if model["training_tokens"]:
            provider.append(("training token", model["training_tokens"], ""))
        provider.append(("parameter (gross)", model["parameters"], "all parameters"))
        if model["active_parameters"]:
            provider.append(
                ("parameter (effective)", model["active_parameters"], "active per token (mixture of experts)")
            )
    return {
        "basis": "location-based; embodied carbon included; no certificates, offsets or market instruments",
        "consumer": consumer,
        "provider": {
            "training_kgco2e": total,
            "operational_kgco2e": operational,
            "embodied_kgco2e": embodied,
            "scores": [
                {"per": unit, "g_co2e": rules.sci(operational, embodied, count) * 1000, "note": note}
                for unit, count, note in provider
            ],
        },
        "note": "Training is reported in the Provider score only; the Consumer score covers serving.",
    }


# --- declared boundaries ---

BOUNDARIES = (
    (
        "accelerators",
        "accelerators_kwh",
        "accelerators only, measured (idle time of its own GPUs in the usage windows included)",
    ),
    ("host", "it_kwh", "+ host CPU and memory"),
    ("facility", "facility_kwh", "× PUE (facility)"),
)


def declared_boundaries(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each deployment's energy per request and per 1,000 tokens from the narrowest boundary
    outwards, with the carbon that adds embodied hardware, beside published reference points
    on the same boundaries."""
    out = []
    for d in figures.get("deployments", []):
        energy = d.get("energy_by_boundary")
        if not energy:
            out.append({"deployment": d["name"], "available": False, "reason": d["note"]})
            continue
        levels = []
        for key, field, text in BOUNDARIES:
            kwh = energy.get(field)
            levels.append(
                {
                    "boundary": key,
                    "declared": text,
                    "wh_per_request": kwh * 1000 / d["requests"] if kwh and d["requests"] else None,
                    "wh_per_1k_tokens": kwh * 1e6 / d["tokens"] if kwh and d["tokens"] else None,
                }
            )
        sci = _central(d.get("sci_kgco2e"))
        out.append(
            {
                "deployment": d["name"],
                "available": True,
                "statistic": "mean over the usage windows (total ÷ count)",
                "levels": levels,
                "idle_and_reserve": "Idle time of the deployment's own accelerators is inside every level; "
                "reserve capacity kept elsewhere for peaks is not metered and not counted.",
                "with_embodied_g_co2e_per_request": sci * 1000 / d["requests"] if sci and d["requests"] else None,
                "full_life_cycle": "Not reported: end of life and transport of the hardware are not modelled.",
                "carbon_basis": "location-based",
            }
        )
    return out


def run_boundaries(figures: dict[str, Any]) -> list[dict[str, Any]]:
    """Each run's energy total at each boundary, and whether each part was measured."""
    return [
        {
            "label": r["label"],
            "stage": r["stage"],
            "status": r["status"],
            "parts": {p["name"]: p["how"] for p in r["parts"]},
            **r["energy_by_boundary"],
        }
        for r in figures["runs"]
    ]
