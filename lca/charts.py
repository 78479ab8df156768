"""Small SVG charts, drawn on the server so that web pages and PDF reports use the
same vector drawing. No Django; text is escaped here."""

from __future__ import annotations

from html import escape

from lca.uncertainty import Range

PALETTE = ["#13663d", "#2f6db5", "#8a5a00", "#6b3fa0", "#a4262c", "#2b7a78"]


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}"


def range_bars(items: list[tuple[str, Range]], unit: str, *, title: str, width: int = 640) -> str:
    """Horizontal bars at the central value with a whisker from low to high."""
    row_h, label_w, pad = 34, 190, 12
    height = pad * 2 + row_h * len(items) + 20
    top = max((r.high for _, r in items), default=0) or 1
    plot_w = width - label_w - pad * 2 - 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, r) in enumerate(items):
        y = pad + i * row_h
        x0 = label_w
        w = r.central / top * plot_w
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" fill="#1b2420">{escape(label)}</text>')
        parts.append(f'<rect x="{x0}" y="{y + 6}" width="{w:.2f}" height="18" fill="{colour}" rx="2"/>')
        if not r.is_exact:
            lo, hi = x0 + r.low / top * plot_w, x0 + r.high / top * plot_w
            parts.append(
                f'<path d="M{lo:.2f} {y + 15}H{hi:.2f}M{lo:.2f} {y + 9}V{y + 21}M{hi:.2f} {y + 9}V{y + 21}" '
                'stroke="#1b2420" stroke-width="1.5" fill="none"/>'
            )
        label_x = x0 + max(w, r.high / top * plot_w) + 6
        parts.append(f'<text x="{label_x:.2f}" y="{y + 19}" fill="#1b2420">{_fmt(r.central)}</text>')
    parts.append(
        f'<text x="{label_w}" y="{height - 6}" fill="#55615b">{escape(unit)} — bar: central value; '
        "whisker: low to high</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    series: list[tuple[str, list[tuple[float, float]]]],
    *,
    title: str,
    y_unit: str,
    x_labels: tuple[str, str],
    width: int = 720,
    height: int = 240,
) -> str:
    """One or more lines over a shared x axis (x in any unit, e.g. epoch seconds).
    `x_labels` are the texts under the first and last x."""
    pad_l, pad_r, pad_t, pad_b = 64, 16, 16, 36
    points = [p for _, line in series for p in line]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="chart" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="#55615b">No data</text>')
        return "".join([*parts, "</svg>"])
    x0, x1 = min(p[0] for p in points), max(p[0] for p in points)
    top = max(p[1] for p in points) or 1.0
    span = (x1 - x0) or 1.0
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b

    def xy(p: tuple[float, float]) -> str:
        return f"{pad_l + (p[0] - x0) / span * plot_w:.1f},{pad_t + plot_h - p[1] / top * plot_h:.1f}"

    parts.append(
        f'<path d="M{pad_l} {pad_t}V{pad_t + plot_h}H{pad_l + plot_w}" stroke="#8a9690" fill="none"/>'
        f'<text x="{pad_l - 6}" y="{pad_t + 10}" text-anchor="end" fill="#55615b">{_fmt(top)}</text>'
        f'<text x="{pad_l - 6}" y="{pad_t + plot_h}" text-anchor="end" fill="#55615b">0</text>'
        f'<text x="{pad_l}" y="{height - 18}" fill="#55615b">{escape(x_labels[0])}</text>'
        f'<text x="{pad_l + plot_w}" y="{height - 18}" text-anchor="end" fill="#55615b">{escape(x_labels[1])}</text>'
    )
    for i, (name, line) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<polyline points="{" ".join(xy(p) for p in line)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        legend = f"■ {escape(name)} ({escape(y_unit)})"
        parts.append(f'<text x="{pad_l + 8 + i * 200}" y="{height - 4}" fill="{colour}">{legend}</text>')
    parts.append("</svg>")
    return "".join(parts)
