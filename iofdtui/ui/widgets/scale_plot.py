"""A small point-and-line plot drawn with braille dots: ring cost against a log x axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from iofdtui.reports import format as fmt

MARKERS: tuple[str, ...] = ("●", "▲", "✕", "■")
"""The glyph of each series at its measured points."""

SP = "\u00a0"
"""Padding: Textual trims leading plain spaces from a rendered line, not these."""

# Braille dot bits by (column, row) within a 2x4 cell (Unicode's dot numbering).
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


@dataclass(frozen=True, slots=True)
class Series:
    """One curve: its name and its measured (x, y in ns) points."""

    name: str
    points: tuple[tuple[float, float], ...]


def tick_label(value: float) -> str:
    """An x tick as `1`, `64`, `1k`, `100k`."""
    if value >= 1000 and value % 1000 == 0:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def nice_step(span: float, ticks: int) -> float:
    """A round step (1, 2, 2.5 or 5 x 10^k) giving at most `ticks` steps over `span`."""
    raw = span / max(ticks, 1)
    power = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if mult * power >= raw:
            return mult * power
    return 10 * power  # pragma: no cover - the loop always returns


def _line(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    """Bresenham: the dots from (x0, y0) to (x1, y1)."""
    dots = []
    dx, dy = abs(x1 - x0), -abs(y1 - y0)
    sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
    err = dx + dy
    while True:
        dots.append((x0, y0))
        if (x0, y0) == (x1, y1):
            return dots
        e2 = 2 * err
        if e2 >= dy:
            err += dy
            x0 += sx
        if e2 <= dx:
            err += dx
            y0 += sy


class ScalePlot(Widget):
    """Series of (x, ns) points on a log x axis and a linear y axis from 0.

    Each series is drawn as braille lines between its points, with a marker
    glyph on every measured point; the y axis is labelled in ns/µs and the x
    axis at `x_ticks`. Only measured points are drawn: a plot with none says
    it is waiting.
    """

    DEFAULT_CSS = """
    ScalePlot {
        height: 1fr;
        min-height: 8;
        padding: 0 1;
    }
    ScalePlot > .scale-plot--axis { color: $text-muted; }
    ScalePlot > .scale-plot--series-0 { color: $success; }
    ScalePlot > .scale-plot--series-1 { color: $warning; }
    ScalePlot > .scale-plot--series-2 { color: $error; }
    ScalePlot > .scale-plot--series-3 { color: $accent; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "scale-plot--axis",
        "scale-plot--series-0",
        "scale-plot--series-1",
        "scale-plot--series-2",
        "scale-plot--series-3",
    }

    series: reactive[tuple[Series, ...]] = reactive(())
    """The curves to draw; setting it redraws the plot, unless the curves are equal
    to those drawn (frozen points: a sweep that measured nothing new redraws nothing)."""

    def __init__(self, x_ticks: Sequence[float], *, id: str | None = None) -> None:
        """A plot whose x axis runs from the first to the last of `x_ticks` (log scale).

        Args:
            x_ticks: the x values to label, ascending and positive.
            id: the widget's id.
        """
        super().__init__(id=id)
        self.x_ticks = tuple(x_ticks)
        """Where the x axis is labelled; its ends are the axis's ends."""

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"scale-plot--{name}", partial=True)

    def render(self) -> Text:
        """The plot at the widget's current size."""
        width, height = self.content_size
        series_styles = [self._style(f"series-{i % 4}") for i in range(len(self.series))]
        axis = self._style("axis")
        out = Text(no_wrap=True, overflow="crop")
        legend = Text()
        for i, s in enumerate(self.series):
            legend.append(f"{MARKERS[i % len(MARKERS)]} {s.name}  ", series_styles[i])
        out.append_text(legend)
        points = [y for s in self.series for _x, y in s.points]
        avail = height - 3  # legend, x axis, x labels
        if not points or avail < 2:
            out.append("\n" * max(height // 2, 1) + SP * 2)
            out.append("waiting for the first measured point…", axis)
            return out
        top = max(points) * 1.08
        step = nice_step(top, max(2, min(5, avail // 3)))
        steps = max(round(math.ceil(top / step - 1e-9)), 1)
        top = steps * step
        y_ticks = [i * step for i in range(steps + 1)]
        # Equal gaps between ticks: the plot uses steps * gap + 1 rows (a tick
        # every `gap` rows) and leaves the few rows left over blank above it.
        gap = max((avail - 1) // steps, 1)
        rows = steps * gap + 1
        label_w = max(len(fmt.ns(t)) for t in y_ticks) + 1
        cols = max(width - label_w - 3, 4)  # room for the last x label's tail
        lo, hi = math.log(self.x_ticks[0]), math.log(self.x_ticks[-1])

        def dot_x(x: float) -> int:
            return round((math.log(x) - lo) / ((hi - lo) or 1) * (2 * cols - 1))

        def dot_y(y: float) -> int:
            # Row r holds dots 4r..4r+3: a value sits on the middle of the row
            # its tick labels, so a point at a tick's value is level with it.
            return min(max(round((1 - y / top) * 4 * (rows - 1) + 1.5), 0), 4 * rows - 1)

        bits = [[0] * cols for _ in range(rows)]
        owner: list[list[int | None]] = [[None] * cols for _ in range(rows)]
        marks: dict[tuple[int, int], int] = {}
        for index, s in enumerate(self.series):
            dots = [(dot_x(x), dot_y(y)) for x, y in sorted(s.points)]
            for (x0, y0), (x1, y1) in pairwise(dots):
                for dx, dy in _line(x0, y0, x1, y1):
                    bits[dy // 4][dx // 2] |= _DOTS[dx % 2][dy % 4]
                    owner[dy // 4][dx // 2] = index
            for dx, dy in dots:
                marks[(dy // 4, dx // 2)] = index
        tick_rows = {(steps - i) * gap: t for i, t in enumerate(y_ticks)}
        out.append("\n" * max(avail - rows, 0))
        # Padding goes unstyled, so an SVG export puts each label at its own x.
        for row in range(rows):
            tick = tick_rows.get(row)
            label = fmt.ns(tick) if tick is not None else ""
            out.append("\n" + SP * (label_w - len(label)))
            out.append(label + ("┤" if tick is not None else "│"), axis)
            for col in range(cols):
                if (row, col) in marks:
                    i = marks[(row, col)]
                    out.append(MARKERS[i % len(MARKERS)], series_styles[i])
                elif bits[row][col]:
                    i = owner[row][col] or 0
                    out.append(chr(0x2800 + bits[row][col]), series_styles[i])
                else:
                    out.append(SP)
        tick_cols = [dot_x(t) // 2 for t in self.x_ticks]
        ruler = ["─"] * cols
        for c in tick_cols:
            ruler[c] = "┴"
        out.append("\n" + SP * label_w)
        out.append("└" + "".join(ruler), axis)
        out.append("\n" + SP * (label_w + 1))
        free = 0
        for c, t in zip(tick_cols, self.x_ticks, strict=True):
            text = tick_label(t)
            start = max(c - len(text) // 2, free + 1 if free else 0)
            if start + len(text) > cols + 3:
                continue
            out.append(SP * (start - free))
            out.append(text, axis)
            free = start + len(text)
        return out
