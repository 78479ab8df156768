"""The formulas against published worked examples, without the database."""

from dataclasses import replace

import pytest

from lca import footprint as fp
from lca.uncertainty import Range

E = Range.exact


def test_sci_embodied_worked_example():
    # SCI 1.1: TE 1,000 kg, 4-year life, 1 hour reserved, whole device -> ~28.54 g.
    m = fp.embodied_sci_kgco2e(E(1000), E(1), fp.expected_life_hours(E(4), E(1)))
    assert m.central * 1000 == pytest.approx(28.54, rel=1e-3)


def test_bloom_dynamic_energy_and_carbon():
    f = fp.compute(
        fp.FootprintInputs(intensity_g_per_kwh=E(57), accelerator_hours=E(1_082_990), power_per_accelerator_w=E(400))
    )
    assert f.facility_energy_kwh.central == pytest.approx(433_196)
    assert f.location_based_kgco2e.central / 1000 == pytest.approx(24.7, rel=0.01)


def test_host_overhead_applies_only_to_what_the_scope_leaves_out():
    def facility_kwh(scope, **kw):
        return fp.compute(
            fp.FootprintInputs(
                intensity_g_per_kwh=E(100),
                pue=E(1.5),
                energy_kwh=E(1000),
                energy_scope=scope,
                host_overhead=E(1.4),
                **kw,
            )
        ).facility_energy_kwh.central

    assert facility_kwh(fp.Scope.ACCELERATOR) == pytest.approx(1000 * 1.4 * 1.5)
    assert facility_kwh(fp.Scope.NODE) == pytest.approx(1000 * 1.5)
    assert facility_kwh(fp.Scope.FACILITY) == pytest.approx(1000)
    # measured host energy replaces the overhead estimate
    assert facility_kwh(fp.Scope.ACCELERATOR, host_energy_kwh=E(250)) == pytest.approx(1250 * 1.5)


def test_supplied_system_power_is_not_inflated():
    # Patterson et al. publish system power per accelerator, host included: scope "node".
    node = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(429),
            accelerator_hours=E(10),
            power_per_accelerator_w=E(330),
            power_scope=fp.Scope.NODE,
            host_overhead=E(1.43),
        )
    )
    assert node.it_energy_kwh == E(3.3)


def test_parts_say_what_was_measured_and_what_estimated_and_add_up():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(200),
            pue=E(1.1),
            energy_kwh=E(100),
            energy_how=fp.How.MEASURED,
            host_overhead=Range(1.2, 1.43, 1.78),
        )
    )
    accelerators, host = f.part("accelerators"), f.part("host")
    assert accelerators is not None and accelerators.how == fp.How.MEASURED
    assert host is not None and host.how == fp.How.ESTIMATED
    assert host.it_energy_kwh is not None
    assert host.it_energy_kwh.as_dict() == pytest.approx({"low": 20, "central": 43, "high": 78})
    total = accelerators.location_based_kgco2e.central + host.location_based_kgco2e.central
    assert total == pytest.approx(f.location_based_kgco2e.central)


def test_market_based_uses_the_residual_mix_for_the_unmatched_share():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(300),
            energy_kwh=E(1000),
            energy_scope=fp.Scope.FACILITY,
            certificate_share=E(0.5),
            residual_intensity_g_per_kwh=E(440),
        )
    )
    assert f.market_based_kgco2e.central == pytest.approx(1000 * 0.5 * 440 / 1000)
    assert f.location_based_kgco2e.central == pytest.approx(300)


def test_idle_provisioned_capacity_stretches_device_hours():
    busy = fp.FootprintInputs(
        intensity_g_per_kwh=E(0), flops=1e18, peak_tflops=1000, mfu=E(0.5), power_per_accelerator_w=E(700)
    )
    half_idle = fp.compute(replace(busy, capacity_in_use=E(0.5)))
    assert half_idle.accelerator_hours == E(2 * 1e18 / (1e15 * 0.5) / 3600)


def test_host_lifetime_is_its_own():
    common = {
        "intensity_g_per_kwh": E(0),
        "accelerator_hours": E(8),
        "energy_kwh": E(0),
        "host_embodied_kgco2e": E(2500),
        "lifetime_years": E(6),
    }
    same = fp.compute(fp.FootprintInputs(**common)).embodied_hosts_kgco2e
    shorter = fp.compute(fp.FootprintInputs(**common, host_lifetime_years=E(3))).embodied_hosts_kgco2e
    assert same is not None and shorter is not None
    assert shorter.central == pytest.approx(2 * same.central)


def test_gpt3_patterson_table_4():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(429),
            pue=E(1.10),
            accelerator_hours=E(10_000 * 14.8 * 24),
            power_per_accelerator_w=E(330),
        )
    )
    assert f.facility_energy_kwh.central / 1000 == pytest.approx(1287, rel=0.03)
    assert f.location_based_kgco2e.central / 1000 == pytest.approx(552.1, rel=0.03)


def test_pue_is_applied_once_and_not_to_metered_facility_energy():
    measured = fp.compute(
        fp.FootprintInputs(intensity_g_per_kwh=E(100), pue=E(1.5), energy_kwh=E(1000), energy_scope=fp.Scope.NODE)
    )
    metered = fp.compute(
        fp.FootprintInputs(intensity_g_per_kwh=E(100), pue=E(1.5), energy_kwh=E(1500), energy_scope=fp.Scope.FACILITY)
    )
    assert measured.facility_energy_kwh.central == 1500
    assert metered.facility_energy_kwh.central == 1500
    assert metered.location_based_kgco2e == measured.location_based_kgco2e
    assert any("not applied again" in n for n in metered.notes)


def test_full_certificates_zero_market_based_and_leave_location_based():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(400), energy_kwh=E(1000), energy_scope=fp.Scope.NODE, certificate_share=E(1.0)
        )
    )
    assert f.market_based_kgco2e.central == 0
    assert f.location_based_kgco2e.central == 400


def test_training_flops_use_active_parameters():
    assert fp.training_flops(13e9, 1e12) == 6 * 13e9 * 1e12
    assert fp.inference_flops(7e9, 1000) == 2 * 7e9 * 1000


def test_estimate_from_flops_carries_mfu_range_and_ranks_inputs():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=Range(300, 400, 500),
            flops=fp.training_flops(7e9, 2e12),
            peak_tflops=989,
            mfu=Range(0.35, 0.40, 0.45),
            power_per_accelerator_w=E(700),
        )
    )
    hours = f.accelerator_hours
    assert hours is not None
    assert hours.central == pytest.approx(8.4e22 / (989e12 * 0.40) / 3600)
    assert hours.low < hours.central < hours.high  # the MFU range widens hours, inverted
    assert [s.input_name for s in f.sensitivity] == ["intensity_g_per_kwh", "mfu"]


def test_capital_goods_counts_whole_devices():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(0),
            accelerator_hours=E(10),
            power_per_accelerator_w=E(700),
            accelerator_count=16,
            accelerator_embodied_kgco2e=E(164),
            host_embodied_kgco2e=E(2500),
            lifetime_years=E(6),
        )
    )
    assert f.capital_goods_kgco2e == E(16 * 164 + 2 * 2500)
    assert f.embodied_kgco2e is not None and f.embodied_kgco2e.central < 1  # 10 device-hours of a 6-year life


def test_missing_data_is_said_not_guessed():
    f = fp.compute(fp.FootprintInputs(intensity_g_per_kwh=E(100), energy_kwh=E(10)))
    assert f.embodied_kgco2e is None and f.water_l is None
    assert any("Embodied carbon not computed" in n for n in f.notes)
    assert any("WUE is unknown" in n for n in f.notes)


def test_water_from_wue_uses_it_energy():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(0), energy_kwh=E(1000), energy_scope=fp.Scope.NODE, pue=E(1.2), wue_l_per_kwh=E(0.3)
        )
    )
    assert f.water_l == E(300)


def test_per_functional_unit():
    f = fp.compute(
        fp.FootprintInputs(
            intensity_g_per_kwh=E(394),
            energy_kwh=E(864.25),
            energy_scope=fp.Scope.NODE,
            requests=230_768,
            tokens=2_000_000,
        )
    )
    assert f.per_request_kwh is not None and f.per_request_kwh.central * 1000 == pytest.approx(3.75, rel=0.01)
    assert f.per_1k_tokens_kgco2e is not None
    assert f.per_1k_tokens_kgco2e.central == pytest.approx(864.25 * 0.394 / 2000)


def test_a_range_must_be_ordered():
    with pytest.raises(ValueError, match="low <= central <= high"):
        Range(2, 1, 3)
