from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from lca import validation
from lca.validation import Check, run


def test_every_published_case_is_within_tolerance(db):
    outcomes = run()
    assert {o.case for o in outcomes} == {
        "bloom-dynamic",
        "bloom-idle",
        "bloom-embodied",
        "bloom-total",
        "bloom-pue",
        "bloom-inference",
        "gpt3",
        "t5",
        "sci-embodied",
    }
    assert [o for o in outcomes if not o.passed] == []


def test_lca_validate_prints_published_computed_and_error(db):
    out = StringIO()
    call_command("lca_validate", stdout=out)
    text = out.getvalue()
    assert "gpt3" in text and "552.10" in text and "553.14" in text
    assert "All 16 published figures reproduced." in text


def test_lca_validate_fails_when_a_case_is_out_of_tolerance(db, monkeypatch):
    real = validation.cases

    def with_a_wrong_figure():
        cases = real()
        wrong = cases[0]
        return [
            type(wrong)(
                wrong.id,
                wrong.source,
                wrong.request,
                [Check("energy", 500_000, "kWh", wrong.checks[0].read)],
                wrong.tolerance,
            )
        ]

    monkeypatch.setattr(validation, "cases", with_a_wrong_figure)
    with pytest.raises(CommandError, match="1 of 1 published figures are outside"):
        call_command("lca_validate", stdout=StringIO())
