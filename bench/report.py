"""Figures as an aligned table: one column per tree and, beside a baseline, the change in percent."""

from __future__ import annotations

from collections.abc import Mapping

Figures = dict[str, float]


def format_value(value: float | None) -> str:
    """Thousands with separators and no decimals, tens with one decimal, smaller figures with three."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3f}"


def change(current: float | None, baseline: float | None) -> str:
    """``current`` against ``baseline`` in percent, signed; "-" when either is missing or zero."""
    if current is None or not baseline:
        return "-"
    return f"{100 * (current - baseline) / baseline:+.1f}%"


def table(title: str, columns: Mapping[str, Figures]) -> str:
    """The figures of every column (current first, then a baseline) under ``title``.

    With two columns a third says how the first changed against the second.
    """
    names = list(dict.fromkeys(name for figures in columns.values() for name in figures))
    if not names:
        return f"{title}\n  (no figures)"
    rows = [[name, *(format_value(figures.get(name)) for figures in columns.values())] for name in names]
    header = ["figure", *columns]
    if len(columns) == 2:
        current, baseline = columns.values()
        header.append("change")
        for row, name in zip(rows, names, strict=True):
            row.append(change(current.get(name), baseline.get(name)))
    lines = [header, *rows] if len(columns) > 1 else rows
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  "
        + "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    return "\n".join([title, *text])
