"""How figures are written on screen: one place, so every column agrees."""

from __future__ import annotations

import math

DASH = "—"


def ns(value: float | None) -> str:
    """A latency in ns as a short string (`812ns`, `1.33µs`, `26.0µs`), or a dash."""
    if value is None or math.isnan(value):
        return DASH
    if abs(value) < 1000:
        return f"{value:.0f}ns"
    if abs(value) < 10_000:
        return f"{value / 1000:.2f}µs"
    if abs(value) < 1_000_000:
        return f"{value / 1000:.1f}µs"
    return f"{value / 1e6:.2f}ms"


def count(value: int, compact: bool = False) -> str:
    """A count with thousands separators, shortened past 10 million (past 1 million if compact)."""
    if compact and 1_000_000 <= value < 10_000_000:
        return f"{value / 1e6:.2f}M"
    if value < 10_000_000:
        return f"{value:,}"
    if value < 10_000_000_000:
        return f"{value / 1e6:.1f}M"
    return f"{value / 1e9:.1f}G"


def approx_count(value: int) -> str:
    """A count to three significant digits (`330k`, `1.01M`): for a split whose
    exact total stands in its own column."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            scaled = value / scale
            return f"{scaled:.3g}{suffix}" if scaled < 1000 else f"{scaled:.0f}{suffix}"
    return str(value)


def rate(value: float | None) -> str:
    """A per-second rate (`44.1k`), or a dash before the second snapshot."""
    if value is None or math.isnan(value):
        return DASH
    if value < 1000:
        return f"{value:.0f}"
    if value < 1_000_000:
        return f"{value / 1000:.1f}k"
    return f"{value / 1e6:.2f}M"


def ratio(value: float | None) -> str:
    """Baseline p50 / ioeventfd p50 as `5.1×`."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value:.1f}×"


def seconds(value: float | None) -> str:
    """An interval such as `0.50 s`."""
    if value is None:
        return DASH
    return f"{value:.2f} s"
