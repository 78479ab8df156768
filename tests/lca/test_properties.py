"""Properties every footprint keeps, whatever the inputs."""

from hypothesis import given
from hypothesis import strategies as st

from lca import footprint as fp
from lca.uncertainty import Range

positive = st.floats(min_value=0.0, max_value=1e7, allow_nan=False)
share = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def ranges(draw, values=positive):  # type: ignore[no-untyped-def]
    a, b, c = sorted(draw(values) for _ in range(3))
    return Range(a, b, c)


@st.composite
def inputs(draw):  # type: ignore[no-untyped-def]
    pue = draw(ranges(st.floats(min_value=1.0, max_value=3.0)))
    return fp.FootprintInputs(
        intensity_g_per_kwh=draw(ranges(st.floats(min_value=0, max_value=1500))),
        pue=pue,
        certificate_share=draw(ranges(share)),
        accelerator_hours=draw(ranges()),
        power_per_accelerator_w=draw(ranges(st.floats(min_value=0, max_value=1500))),
        wue_l_per_kwh=draw(ranges(st.floats(min_value=0, max_value=5))),
        accelerator_embodied_kgco2e=draw(ranges(st.floats(min_value=0, max_value=1000))),
        lifetime_years=draw(ranges(st.floats(min_value=1, max_value=10))),
    )


@given(inputs())
def test_the_parts_add_up_and_every_figure_is_computed(i):
    # (Ranges order themselves on construction, so checking low <= central <= high could not fail.)
    f = fp.compute(i)
    assert all(v is not None for v in (f.embodied_kgco2e, f.water_l, f.it_energy_kwh))
    for total, part in (
        ("facility_energy_kwh", "facility_energy_kwh"),
        ("location_based_kgco2e", "location_based_kgco2e"),
    ):
        for end in ("low", "central", "high"):
            summed = sum(getattr(getattr(p, part), end) for p in f.parts)
            assert abs(summed - getattr(getattr(f, total), end)) <= 1e-9 * max(1.0, summed)
    assert f.sci_kgco2e.central >= f.location_based_kgco2e.central


@given(inputs())
def test_market_based_never_exceeds_location_based(i):
    f = fp.compute(i)
    assert f.market_based_kgco2e.central <= f.location_based_kgco2e.central + 1e-9


@given(
    ranges(),
    st.floats(min_value=1, max_value=2),
    st.floats(min_value=0, max_value=1000),
    st.floats(min_value=0.1, max_value=100),
)
def test_operational_carbon_is_linear_in_energy(energy, pue, intensity, k):
    one = fp.location_based_kgco2e(fp.facility_energy_kwh(energy, Range.exact(pue)), Range.exact(intensity))
    scaled = fp.location_based_kgco2e(fp.facility_energy_kwh(energy * k, Range.exact(pue)), Range.exact(intensity))
    assert abs(scaled.central - k * one.central) <= 1e-6 * max(1.0, abs(k * one.central))


@given(st.floats(min_value=1, max_value=3), st.floats(min_value=0, max_value=1500), share)
def test_zero_energy_means_zero_operational_carbon(pue, intensity, certificates):
    energy = fp.facility_energy_kwh(Range.exact(0), Range.exact(pue))
    assert fp.location_based_kgco2e(energy, Range.exact(intensity)).high == 0
    assert fp.market_based_kgco2e(energy, Range.exact(intensity), Range.exact(certificates)).high == 0
