"""Formatting of figures with their ranges, shared by pages and reports."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if abs(value) >= 1e12:  # FLOPs and token counts read better in scientific notation
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


@register.filter
def num(value: float | None) -> str:
    return number(value)


@register.simple_tag
def figure(value: dict[str, float] | float | str | None, unit: str = "") -> Any:
    """`central unit (low–high)`; a dash with 'not computed' when the figure is missing."""
    if value is None or value == "":  # a missing figure (an absent key renders as "")
        return mark_safe('<span class="muted">not computed</span>')
    if not isinstance(value, dict):
        return format_html("{} {}", number(float(value)), unit)
    if value["low"] == value["high"]:
        return format_html("<strong>{}</strong> {}", number(value["central"]), unit)
    return format_html(
        '<strong>{}</strong> {} <span class="range">({}–{})</span>',
        number(value["central"]),
        unit,
        number(value["low"]),
        number(value["high"]),
    )


@register.filter
def svg(markup: str) -> Any:
    """Embeds a chart from lca.charts, which escapes every text it draws."""
    return mark_safe(markup)  # noqa: S308
