"""Stacked bars of the round trip's stages, one per path: where a kick's time goes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from iofdtui.engine.roundtrip_figures import STAGES, RoundTripResult
from iofdtui.reports import format as fmt

LABEL_WIDTH = 35
"""Room for the path's name and reader before its bar."""

STAGE_NAMES = {"awake": "kick→awake", "written": "awake→written", "handler": "written→handler"}
"""The legend's names of the stages."""

BLOCK = "█"


def path_label(r: RoundTripResult) -> str:
    """`pio ioeventfd→irqfd pin (epoll)`, `mmio exit→KVM_SIGNAL_MSI`, `self-IPI (floor)`."""
    if r.path == "ioeventfd":
        pin = " pin" if r.route == "pin" else ""
        return f"{r.bus} ioeventfd→irqfd{pin} ({r.reader})"
    if r.path == "user":
        how = "KVM_IRQ_LINE pin" if r.route == "pin" else "KVM_SIGNAL_MSI"
        return f"{r.bus} exit→{how}"
    return "self-IPI (floor)"


def bar_cells(values: list[float], scale: float, width: int) -> list[int]:
    """Cells for each value at `scale` ns per `width` cells: each value's cells
    rounded from the running sum, so the bar's length is the sum's, not the rounding's."""
    cells, done, total = [], 0, 0.0
    for value in values:
        total += max(value, 0.0)
        end = round(total / scale * width) if scale > 0 else 0
        end = min(max(end, done), width)
        cells.append(end - done)
        done = end
    return cells


class StageBars(Widget):
    """One bar per path, its stages' p50s stacked, all on one scale.

    The stages' p50s are stacked (each stage's own median; they need not add
    up to the round trip's p50, which the line prints after the bar).
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "stage-bars--awake",
        "stage-bars--written",
        "stage-bars--handler",
        "stage-bars--total",
    }

    DEFAULT_CSS = """
    StageBars { height: auto; padding: 0 1; }
    StageBars > .stage-bars--awake { color: $warning; }
    StageBars > .stage-bars--written { color: $success; }
    StageBars > .stage-bars--handler { color: $secondary; }
    StageBars > .stage-bars--total { color: $primary; }
    """

    results: reactive[tuple[RoundTripResult, ...]] = reactive((), layout=True)
    """The paths to draw, in the report's order."""

    def render(self) -> Text:
        """Legend, then a bar per path (self-IPI: one block, no host stages)."""
        width = max(self.size.width - LABEL_WIDTH - 24, 10)
        styles = {s: self.get_component_rich_style(f"stage-bars--{s}") for s in STAGES}
        total_style = self.get_component_rich_style("stage-bars--total")
        text = Text("p50 per stage, stacked:  ")
        for stage in STAGES:
            text.append(BLOCK * 2, style=styles[stage])
            text.append(f" {STAGE_NAMES[stage]}  ")
        if any(r.path == "self-ipi" for r in self.results):  # the legend of its one block
            text.append(BLOCK * 2, style=total_style)
            text.append(" kick→handler (no host stages)")
        scale = max(
            (
                sum(r.stages[s].p50_ns for s in STAGES) if r.stages else r.total.p50_ns
                for r in self.results
                if r.total is not None
            ),
            default=0.0,
        )
        for r in self.results:
            text.append("\n" + path_label(r).ljust(LABEL_WIDTH)[:LABEL_WIDTH])
            if r.total is None:
                text.append("no kick was timed")
                continue
            if r.stages:
                values = [r.stages[s].p50_ns for s in STAGES]
                for stage, cells in zip(STAGES, bar_cells(values, scale, width), strict=True):
                    text.append(BLOCK * cells, style=styles[stage])
                used = sum(bar_cells(values, scale, width))
            else:
                used = bar_cells([r.total.p50_ns], scale, width)[0]
                text.append(BLOCK * used, style=total_style)
            text.append(" " * (width - used))
            text.append(f" p50 {fmt.ns(r.total.p50_ns)} p99 {fmt.ns(r.total.p99_ns)}")
            if not r.exact:
                text.append(" ✗ counts", style="bold red")
        return text
