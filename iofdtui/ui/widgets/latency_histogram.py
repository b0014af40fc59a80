"""Two latency distributions drawn side by side on one log-scaled axis."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.content import Content
from textual.widget import Widget

from iofdtui.ui import format as fmt

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LABEL_WIDTH = 8


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar `fraction` (0..1) of `width` cells, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def _net(histogram: Sequence[tuple[float, int]], overhead: float) -> list[tuple[float, int]]:
    # Buckets are raw guest cycles; subtract the timer's own cost so the axis
    # means "ring cost", as the p50/p99 columns do.  Clamp at 1 ns: a sample
    # below the median overhead is timer noise, not a negative cost.
    return [(max(lo - overhead, 1.0), n) for lo, n in histogram if n > 0]


def _quantile(values: list[tuple[float, int]], q: float) -> float:
    total = sum(n for _, n in values)
    seen = 0
    for lo, n in sorted(values):
        seen += n
        if seen >= q * total:
            return lo
    return values[-1][0]


class LatencyHistogram(Widget):
    """Ring cost of the ioeventfd path beside the userspace-exit path of the same bus and width.

    Rows are log-spaced latency bins; each bar is the share of that path's
    timed rings in the bin, so both shapes compare whatever their sample counts.
    """

    DEFAULT_CSS = """
    LatencyHistogram {
        height: 1fr;
        min-height: 2;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fast: list[tuple[float, int]] = []
        self._slow: list[tuple[float, int]] = []
        self._labels = ("ioeventfd", "userspace exit")

    def show(
        self,
        fast: Sequence[tuple[float, int]],
        slow: Sequence[tuple[float, int]],
        overhead_ns: float | None,
        labels: tuple[str, str] = ("ioeventfd", "userspace exit"),
    ) -> None:
        """Draw these raw histograms, net of `overhead_ns`."""
        overhead = overhead_ns or 0.0
        self._fast = _net(fast, overhead)
        self._slow = _net(slow, overhead)
        self._labels = labels
        self.refresh()

    def render(self) -> Content:
        """Legend on the first line, then one row per latency bin."""
        fast_n = sum(n for _, n in self._fast)
        slow_n = sum(n for _, n in self._slow)
        second: list[str | tuple[str, str]] = (
            [("█", "$warning"), f" {self._labels[1]} n={slow_n:,}"] if self._labels[1] else []
        )
        legend = Content.assemble(("█", "$success"), f" {self._labels[0]} n={fast_n:,}  ", *second)
        # More than ~24 bins would split the few timed samples too thinly.
        rows = max(1, min(24, self.size.height - 1))
        both = self._fast + self._slow
        if not both:
            return Content.assemble(legend, "\nno timed rings yet")
        # Span the bulk of both distributions (p0.5..p99.5) so one outlier
        # does not squash the shapes into a single row.
        lo = min(_quantile(h, 0.005) for h in (self._fast, self._slow) if h)
        hi = max(_quantile(h, 0.995) for h in (self._fast, self._slow) if h)
        hi = max(hi, lo * 1.05)
        if rows == 1:
            return Content.assemble(legend, "\n", *self._one_row(lo, hi))
        edges = [lo * (hi / lo) ** (i / rows) for i in range(rows + 1)]
        edges[-1] = math.inf
        edges[0] = 0.0

        def shares(hist: list[tuple[float, int]], total: int) -> list[float]:
            out = [0.0] * rows
            for value, n in hist:
                index = next(i for i in range(rows) if value < edges[i + 1])
                out[index] += n / total if total else 0.0
            return out

        fast = shares(self._fast, fast_n)
        slow = shares(self._slow, slow_n)
        peak = max(fast + slow) or 1.0
        bar_width = max(4, (self.size.width - _LABEL_WIDTH - 3) // 2)
        parts: list[str | tuple[str, str] | Content] = [legend]
        for i in range(rows):
            label = "≥" + fmt.ns(lo * (hi / lo) ** (i / rows)) if i else "<" + fmt.ns(edges[1])
            parts += [
                "\n",
                (label.rjust(_LABEL_WIDTH), "$text-muted"),
                " ",
                (_bar(fast[i] / peak, bar_width), "$success"),
                " ",
                (_bar(slow[i] / peak, bar_width), "$warning"),
            ]
        return Content.assemble(*parts)

    def _one_row(self, lo: float, hi: float) -> list[str | tuple[str, str]]:
        """Room for one row only: one bin would hold everything, so each bar is
        that path's median against the top of the range instead (0..hi, to
        scale), labelled with the range both distributions span."""
        label = f"{fmt.ns(lo)}–{fmt.ns(hi)}"
        bar_width = max(4, (self.size.width - len(label) - 2) // 2)
        fast = _quantile(self._fast, 0.5) / hi if self._fast else 0.0
        slow = _quantile(self._slow, 0.5) / hi if self._slow else 0.0
        return [
            (label, "$text-muted"),
            " ",
            (_bar(fast, bar_width), "$success"),
            " ",
            (_bar(slow, bar_width), "$warning"),
        ]
