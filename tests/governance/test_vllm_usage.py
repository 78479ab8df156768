"""A deployment's usage counted by its own vLLM servers (through Remote-Write) with its
GPUs' energy: joules per output token, Wh per 1,000 tokens and per request."""

import time
from datetime import UTC, datetime

import pytest

from governance.models import AuditEvent, UsageReport
from governance.services import ledger
from tests.telemetry.test_remote_write import fleet_key, send, v1_body, writer
from tests.workflow import open_deployment

GPU = "GPU-cccccccc-0000-4000-8000-000000000000"


def _write(client, pod, times, prompt, generated, requests, origin, watts=400.0):
    labels = {"namespace": "aurora", "pod": pod, "model_name": "aurora-chat"}
    gpu = {"UUID": GPU, "gpu": "0", "modelName": "NVIDIA H100 80GB HBM3", "namespace": "aurora", "pod": pod}
    series = [
        ({"__name__": "vllm:prompt_tokens_total", **labels}, list(zip(prompt, times, strict=True))),
        ({"__name__": "vllm:generation_tokens_total", **labels}, list(zip(generated, times, strict=True))),
        (
            {"__name__": "vllm:request_success_total", "finished_reason": "stop", **labels},
            list(zip(requests, times, strict=True)),
        ),
        ({"__name__": "DCGM_FI_DEV_POWER_USAGE", **gpu}, [(watts, t) for t in times]),
        (
            {"__name__": "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", **gpu},
            [(1e9 + watts * (t - origin), t) for t in times],
        ),
    ]
    return send(client, v1_body(series))


def test_vllm_counters_become_measured_usage_and_per_token_figures(world):
    _, _, version, pipeline = world
    start_ms = int(time.time() * 1000) - 30 * 60_000
    started = datetime.fromtimestamp(start_ms / 1000 - 60, UTC)
    deployment = open_deployment(pipeline, version, "aurora/vllm-0", started)
    client = writer(fleet_key())
    first = [start_ms + n * 15_000 for n in range(41)]  # 10 minutes
    second = [first[-1] + n * 15_000 for n in range(1, 41)]  # the next 10, in a later write
    # 100 prompt and 50 generated tokens a second, 1 request every 2 s; the server restarts
    # (its counters fall to zero) in the middle of the second write.
    rate = lambda per_s, ts, base=0: [base + per_s * (t - first[0]) / 1000 for t in ts]  # noqa: E731
    assert (
        _write(client, "vllm-0", first, rate(100, first), rate(50, first), rate(0.5, first), first[0]).status_code
        == 204
    )
    restart = 20
    prompt = rate(100, second[:restart]) + [100 * (t - second[restart - 1]) / 1000 for t in second[restart:]]
    generated = rate(50, second[:restart]) + [50 * (t - second[restart - 1]) / 1000 for t in second[restart:]]
    requests = rate(0.5, second[:restart]) + [0.5 * (t - second[restart - 1]) / 1000 for t in second[restart:]]
    assert _write(client, "vllm-0", second, prompt, generated, requests, first[0]).status_code == 204
    again = _write(client, "vllm-0", second, prompt, generated, requests, first[0])
    assert again.status_code == 204  # replayed: counted once

    usage = list(UsageReport.objects.filter(deployment_id=deployment["id"]).order_by("window_start"))
    assert len(usage) == 2
    assert usage[0].window_end == usage[1].window_start  # contiguous windows
    seconds = (second[-1] - first[0]) / 1000  # 1,185 s counted (the first value is the baseline)
    assert sum(u.input_tokens for u in usage) == pytest.approx(100 * seconds, rel=0.01)
    assert sum(u.output_tokens for u in usage) == pytest.approx(50 * seconds, rel=0.01)
    assert sum(u.requests for u in usage) == pytest.approx(0.5 * seconds, rel=0.01)
    assert AuditEvent.objects.filter(action="usage.measured").count() == 2

    from telemetry.rollups import roll_up_pending

    roll_up_pending()
    ledger.mark_versions_stale([version.pk])
    figures = ledger.version_snapshot(version)
    (served,) = figures["deployments"]
    # Energy is read from whole minutes within the usage windows: the partial first and last
    # minutes of a 20-minute window (here 45 s) are outside it.
    energy_j = 400 * seconds
    assert served["energy_kwh"] == pytest.approx(energy_j / 3.6e6, rel=0.05)
    per_token = served["energy_kwh"] * 3.6e6
    assert served["j_per_output_token"] == pytest.approx(per_token / (50 * seconds), rel=0.01)
    assert served["wh_per_1k_tokens"] == pytest.approx(per_token / 3.6 / (150 * seconds), rel=0.01)
    assert served["wh_per_request"] == pytest.approx(per_token / 3600 / (0.5 * seconds), rel=0.01)
    assert served["per_unit_boundary"].startswith("accelerators only")


@pytest.mark.parametrize("frozen_format", [2, 3])
def test_a_review_frozen_in_an_earlier_format_stays_current(world, frozen_format):
    """Format 3 added a deployment's per-unit figures, format 4 each run's compute and
    energy by boundary: a review frozen earlier is compared in its own format, so its
    figures have not changed (and its report says what its snapshot lacks)."""
    from governance.models import ImpactReview
    from governance.services.footprints import (
        FORMAT_4_DEPLOYMENT_KEYS,
        FORMAT_4_KEYS,
        FORMAT_4_RUN_KEYS,
        PER_UNIT_KEYS,
        digest,
    )
    from tests.workflow import approved_review, findings, gate, measured_run, serve

    team, second_lead, version, pipeline = world
    measured_run(pipeline, version, "ft-v2")
    serve(pipeline, version, "chat-v2", tokens=200_000)
    review = ImpactReview.objects.get(pk=approved_review(team, second_lead, version))
    old = {k: v for k, v in review.snapshot.items() if k not in FORMAT_4_KEYS} | {"format": frozen_format}
    later = (*PER_UNIT_KEYS, "per_unit_boundary") if frozen_format == 2 else ()
    later += FORMAT_4_DEPLOYMENT_KEYS
    old["deployments"] = [{k: v for k, v in d.items() if k not in later} for d in old["deployments"]]
    old["runs"] = [{k: v for k, v in r.items() if k not in FORMAT_4_RUN_KEYS} for r in old["runs"]]
    assert old["deployments"] and old != review.snapshot
    ImpactReview.objects.filter(pk=review.pk).update(snapshot=old, snapshot_digest=digest(old))
    review.decisions.update(snapshot_digest=digest(old))
    assert findings(gate(pipeline, version))["approved_review"] is True
    from governance.services import disclosure

    assert disclosure.disclosures(version, old) == {"available": False, "reason": disclosure.FROZEN_EARLIER}
