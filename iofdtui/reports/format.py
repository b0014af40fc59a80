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


# The CLI's report tables: whole figures under a header that names the unit
# (`p50 ns`, `rings/s`), never shortened, so a pipe or a file gets every digit.


def whole(value: float | None) -> str:
    """A figure rounded to a whole number with thousands separators (`1,381`), or a dash."""
    return DASH if value is None else f"{value:,.0f}"


def fixed(value: float | None, digits: int = 2) -> str:
    """A figure with `digits` decimals (`0.99`), or a dash."""
    return DASH if value is None else f"{value:.{digits}f}"


def times(value: float | None, ref: float | None) -> str:
    """`value` as a multiple of a reference figure (`0.23×`), or a dash without one."""
    if value is None or ref is None or ref <= 0:
        return DASH
    return f"{value / ref:.2f}×"


def tick(holds: bool | None) -> str:
    """A check that held (`✓`) or broke (`✗`), or a dash when it was not made."""
    if holds is None:
        return DASH
    return "✓" if holds else "✗"


def length(width: int) -> str:
    """A registration's length in bytes (`4`), or `any` (0: any length)."""
    return "any" if width == 0 else str(width)
