"""Ranges and how uncertainty travels through the footprint formulas.

Method: interval propagation. Every quantity in the footprint formulas is
non-negative and every formula is a product, quotient or sum of such
quantities, so each output is monotone in each input; the output's low (high)
end is reached with every input at the end that lowers (raises) it. Ranges are
therefore combined end to end (low with low, high with high; for a divisor,
low with high). No sampling, so results are exact and reproducible.

Which input dominates the range is found one at a time (a tornado analysis):
each uncertain input is moved across its range with every other input held at
its central value, and the inputs are ranked by the swing they cause."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True)
class Range:
    """A non-negative quantity: central value with its low and high ends."""

    low: float
    central: float
    high: float

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.central <= self.high:
            raise ValueError(f"A range needs 0 <= low <= central <= high, got {self.low}, {self.central}, {self.high}")

    @classmethod
    def exact(cls, value: float) -> Range:
        return cls(value, value, value)

    @classmethod
    def of(cls, value: Range | float | int) -> Range:
        return value if isinstance(value, Range) else cls.exact(float(value))

    @property
    def is_exact(self) -> bool:
        return self.low == self.high

    def __add__(self, other: Range | float) -> Range:
        o = Range.of(other)
        return Range(self.low + o.low, self.central + o.central, self.high + o.high)

    __radd__ = __add__

    def __mul__(self, other: Range | float) -> Range:
        o = Range.of(other)
        return Range(self.low * o.low, self.central * o.central, self.high * o.high)

    __rmul__ = __mul__

    def __truediv__(self, other: Range | float) -> Range:
        o = Range.of(other)
        if o.low <= 0:
            raise ZeroDivisionError("Cannot divide by a range that reaches zero.")
        return Range(self.low / o.high, self.central / o.central, self.high / o.low)

    def complement(self) -> Range:
        """1 − x for a share x in [0, 1]: the ends swap."""
        if self.high > 1:
            raise ValueError("A share cannot exceed 1.")
        return Range(1 - self.high, 1 - self.central, 1 - self.low)

    def as_dict(self) -> dict[str, float]:
        return {"low": self.low, "central": self.central, "high": self.high}


@dataclass(frozen=True)
class Sensitivity:
    """How far one input alone moves an output: the swing from its low to its high end."""

    input_name: str
    output_low: float
    output_high: float
    share_of_swing: float


Inputs = TypeVar("Inputs", bound="DataclassInstance")


def one_at_a_time(inputs: Inputs, output: Callable[[Inputs], Range]) -> list[Sensitivity]:
    """Ranks the Range fields of the dataclass `inputs` by the swing each causes in
    `output(inputs).central` when it alone moves across its range."""
    centred: dict[str, Any] = {
        f.name: Range.exact(v.central) if isinstance(v := getattr(inputs, f.name), Range) else v for f in fields(inputs)
    }
    base = replace(inputs, **centred)
    swings = []
    for name, value in ((f.name, getattr(inputs, f.name)) for f in fields(inputs)):
        if not isinstance(value, Range) or value.is_exact:
            continue
        at_low = output(replace(base, **{name: Range.exact(value.low)})).central
        at_high = output(replace(base, **{name: Range.exact(value.high)})).central
        swings.append((name, min(at_low, at_high), max(at_low, at_high)))
    total = sum(high - low for _, low, high in swings) or 1.0
    ranked = sorted(swings, key=lambda s: s[2] - s[1], reverse=True)
    return [Sensitivity(name, low, high, (high - low) / total) for name, low, high in ranked]
