"""The EU form's and SCI's rules (lca/disclosure.py), against published figures."""

from datetime import UTC, datetime, timedelta

from lca import disclosure as rules


def test_llama_3_1_405b_compute_agrees_two_ways():
    # Meta, Llama 3.1 model card (2024): 405 B parameters, 15.6 T tokens, 3.8e25 FLOPs, 30.84 M H100-hours.
    architecture = 6 * 405e9 * 15.6e12
    hardware = rules.hardware_flops([(30.84e6, 989)], utilisation=0.35)
    agreement = rules.agreement(hardware, architecture)
    assert agreement.within_tolerance and abs(agreement.ratio - 1) < 0.05
    assert rules.scientific(architecture, 2) == "3.8 × 10^25"  # as the model card states it
    assert rules.order_of_magnitude(architecture) == "10^26"
    assert not rules.agreement(architecture * 1.31, architecture).within_tolerance


def test_significant_figures_and_time_classes():
    assert rules.decimal(0.0076369, 2) == "0.0076" and rules.decimal(1234.5, 2) == "1,200"
    assert [rules.time_class(d) for d in (0.1, 45, 120, 200)] == ["< 1 month", "1–3 months", "3–6 months", "> 6 months"]
    t = datetime(2026, 1, 1, tzinfo=UTC)
    overlapping = [
        (t, t + timedelta(days=2)),
        (t + timedelta(days=1), t + timedelta(days=3)),
        (t + timedelta(days=5), t + timedelta(days=6)),
    ]
    assert rules.wall_clock_days(overlapping) == 4  # overlapping runs count once


def test_sci_is_operational_plus_embodied_per_unit():
    assert rules.sci(0.9, 0.1, 1000) == 0.001
