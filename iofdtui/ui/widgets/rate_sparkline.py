"""The detail pane's signals/s sparkline, drawn line by line.

Signals/s gains a point at every reading, so the sparkline is drawn again at
every reading.  Textual's `Sparkline` builds its bars as a Rich renderable,
one styled segment and colour blend per cell per row, then through the Rich
console: a few milliseconds a reading at 160 columns, the dearest part of the
pane.  `RateSparkline` keeps its data, CSS and look and draws the same bars
straight into strips, each column's bar and colour worked out once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.strip import Strip
from textual.widgets import Sparkline

_BARS = "▁▂▃▄▅▆▇█"


def _blend(low: RichColor, high: RichColor, ratio: float) -> RichColor:
    """The colour `ratio` of the way from `low` to `high` in RGB (as Sparkline blends)."""
    if low.triplet is None or high.triplet is None:
        return high
    (r1, g1, b1), (r2, g2, b2) = low.triplet, high.triplet
    return RichColor.from_rgb(
        r1 + (r2 - r1) * ratio, g1 + (g2 - g1) * ratio, b1 + (b2 - b1) * ratio
    )


def _columns(
    data: Sequence[float], width: int, summary: Callable[[Sequence[float]], float]
) -> list[float]:
    """Each column's height ratio (0..1), bucketed and summarised as Sparkline does."""
    count = len(data)
    # Sparkline cuts the data at int(Fraction(count, width) * i): the same as this floor.
    cuts = [count * i // width for i in range(width + 1)]
    buckets = [data[a:b] for a, b in pairwise(cuts) if b > a]
    low, high = min(data), max(data)
    extent = high - low or 1
    ratios = []
    # A float walk over the buckets, step by step, picks the same bucket per column.
    index, step = 0.0, len(buckets) / width
    for _ in range(width):
        ratios.append((summary(buckets[int(index)]) - low) / extent)
        index += step
    return ratios


class RateSparkline(Sparkline):
    """A `Sparkline` drawn through the Line API: the same bars and colours
    (tests compare the two strip for strip), computed once per change of data,
    size or colours."""

    def __init__(self, data: Sequence[float] | None = None, *, id: str | None = None) -> None:
        super().__init__(data, id=id)
        self._drawn: tuple[object, list[Strip]] | None = None

    def _colours(self) -> tuple[RichColor, RichColor]:
        _, base = self.background_colors
        low = self.min_color
        if low is None:
            low = self.get_component_styles("sparkline--min-color").color
        high = self.max_color
        if high is None:
            high = self.get_component_styles("sparkline--max-color").color
        low_rich, high_rich = (base + low).rich_color, (base + high).rich_color
        assert low_rich is not None and high_rich is not None
        return low_rich, high_rich

    def _lines(self, data: list[float], low: RichColor, high: RichColor) -> list[Strip]:
        width, height = self.size
        base = self.visual_style.rich_style
        low_style = base + RichStyle.from_color(low)
        high_style = base + RichStyle.from_color(high)
        if not data:
            return [Strip([])] * (height - 1) + [Strip([Segment("▁" * width, low_style)])]
        if len(data) == 1:
            return [Strip([Segment("█" * width, high_style)])] * height
        ratios = _columns(data, width, self.summary_function)
        steps = len(_BARS) * height - 1
        bars = [int(ratio * steps) for ratio in ratios]
        styles = [base + RichStyle.from_color(_blend(low, high, ratio)) for ratio in ratios]
        blank = Segment(" ", base if base else None)
        lines = []
        for row in reversed(range(height)):
            floor, ceiling = row * len(_BARS), (row + 1) * len(_BARS)
            segments = []
            for bar, style in zip(bars, styles, strict=True):
                if bar < floor:
                    segments.append(blank)
                else:
                    glyph = "█" if bar >= ceiling else _BARS[bar % len(_BARS)]
                    segments.append(Segment(glyph, style))
            lines.append(Strip(segments))
        return lines

    def render_line(self, y: int) -> Strip:
        """Line `y` of the bars, drawn once for each data, size and pair of colours."""
        data = list(self.data or ())
        low, high = self._colours()
        key = (tuple(data), self.size, low, high, self.visual_style, self.summary_function)
        if self._drawn is None or self._drawn[0] != key:
            self._drawn = (key, self._lines(data, low, high))
        lines = self._drawn[1]
        if y < len(lines):
            return lines[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)
