"""Ring-cost distributions side by side on one log axis: the detail pane's bar chart."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from iofdtui.reports import format as fmt

Histogram = Sequence[tuple[float, int]]
"""A raw guest-cycle histogram: (bucket lower bound in ns, count)."""

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LABEL_WIDTH = 8


@dataclass(frozen=True)
class Series:
    """One distribution to draw: its legend, its samples (ns, net) and its colour.

    Equal series draw the same bars: the chart compares them to skip a redraw.
    """

    label: str
    values: list[tuple[float, int]]
    style: str

    @property
    def total(self) -> int:
        """Samples in it."""
        return sum(n for _, n in self.values)


def filled(histogram: Histogram) -> list[tuple[float, int]]:
    """The buckets that hold samples (a replayed file may hold NaN or infinite
    bounds, which no axis can place: they are left out)."""
    return [(lo, n) for lo, n in histogram if n > 0 and math.isfinite(lo)]


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar `fraction` (0..1) of `width` cells, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _quantile(values: list[tuple[float, int]], q: float) -> float:
    total = sum(n for _, n in values)
    seen = 0
    for lo, n in sorted(values):
        seen += n
        if seen >= q * total:
            return lo
    return values[-1][0]


def histogram_content(series: Sequence[Series], width: int, height: int) -> Content:
    """The legend, then one row per log-spaced bin, for a `width` x `height` area."""
    legend: list[str | tuple[str, str]] = []
    for item in series:
        legend += [("█", item.style), f" {item.label} n={item.total:,}  "]
    drawn = [s for s in series if s.values]
    if not drawn:
        return Content.assemble(*legend, "\nno timed rings yet")
    lo = min(_quantile(s.values, 0.005) for s in drawn)
    hi = max(_quantile(s.values, 0.995) for s in drawn)
    # The engine floors net samples at 1 ns; a recording may not: a log axis
    # cannot start at 0 or below, so such samples fall in the first bin.
    lo = max(lo, 1.0)
    hi = max(hi, lo * 1.05)
    rows = max(1, min(24, height - 1))
    # Interior edges only: the first bin takes everything below, the last everything above.
    edges = [lo * (hi / lo) ** (i / rows) for i in range(1, rows)]

    def shares(item: Series) -> list[float]:
        out = [0.0] * rows
        total = item.total
        for value, n in item.values:
            index = next((i for i, edge in enumerate(edges) if value < edge), rows - 1)
            out[index] += n / total
        return out

    columns = [shares(s) for s in series]
    peak = max((max(c) for c in columns if any(c)), default=1.0) or 1.0
    count = max(1, len(series))
    bar_width = max(3, (width - _LABEL_WIDTH - 1) // count - 1)
    parts: list[str | tuple[str, str]] = list(legend)
    for i in range(rows):
        if rows == 1:
            label = "all"
        elif i == 0:
            label = "<" + fmt.ns(edges[0])
        else:
            label = "≥" + fmt.ns(edges[i - 1])
        parts += ["\n", (label.rjust(_LABEL_WIDTH), "$text-muted")]
        for item, column in zip(series, columns, strict=True):
            parts += [" ", (_bar(column[i] / peak, bar_width), item.style)]
    return Content.assemble(*parts)


class CostHistograms(Widget):
    """Several distributions side by side on one log axis: one column of bars each.

    Rows are log-spaced bins over the bulk of every series (p0.5..p99.5); each
    bar is the share of that series' samples in the bin, so shapes compare
    whatever their sample counts.  `series` is reactive: setting series equal
    to those drawn (a registration that was not rung since the last reading)
    repaints nothing.
    """

    DEFAULT_CSS = """
    CostHistograms {
        height: 1fr;
        min-height: 2;
    }
    """

    series: reactive[tuple[Series, ...]] = reactive(())
    """The distributions drawn, in column order."""

    def show(self, series: Sequence[Series]) -> None:
        """Draw these series (empty ones are listed in the legend with n=0)."""
        self.series = tuple(series)

    def render(self) -> Content:
        """The legend, then one row per bin, at the widget's current size."""
        return histogram_content(self.series, self.size.width, self.size.height)


__all__ = ["CostHistograms", "Histogram", "Series", "filled", "histogram_content"]
