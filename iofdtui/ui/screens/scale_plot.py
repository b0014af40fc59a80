"""The scale screen: what does a registration cost the guest? Measured, then plotted.

A thread worker runs the sweep (its own labs, seconds of `KVM_RUN`) while the
app's live guest is held paused, so the two VMs do not share the CPUs; each
measured point is posted back and plotted as it arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from rich import box
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from iofdtui.engine.experiments.scale import ScalePoint, ScaleReport
from iofdtui.engine.model import format_addr
from iofdtui.reports import format as fmt
from iofdtui.ui.scale_sweep import SweepPort, doorbell, expected_points
from iofdtui.ui.screens.held_run import HeldRunScreen, HoldLive, ReleaseLive, held_run_bindings
from iofdtui.ui.widgets.scale_plot import ScalePlot, Series

WALK_SERIES: tuple[str, ...] = ("hit-first", "hit-last", "miss")
"""The trigger-value series, in legend order."""

EXPLANATION = (
    "How KVM finds the eventfd: kvm_io_bus_write() binary-searches the bus's array, sorted by "
    "address, for the first entry at the written address (about log2 N steps, so decoys "
    "elsewhere barely matter), then walks the entries at that address until one accepts the "
    "write. A trigger-value entry that does not match refuses it, so the value registered first "
    "is found at once, the one registered last after k - 1 refusals (~20 ns each on this "
    "project's machines), and a miss walks all k and then exits to userspace."
)


def _p50(point: ScalePoint) -> float | None:
    return point.latency.p50_ns


def summary(points: list[ScalePoint]) -> list[str]:
    """What the measured points say, in numbers (nothing for what was not measured)."""
    lines = []
    decoys = [p for p in points if p.series == "decoys" and _p50(p) is not None]
    if len(decoys) >= 2:
        first, last = decoys[0], decoys[-1]
        lines.append(
            f"Decoys: p50 {fmt.ns(_p50(first))} with {first.n:,}, {fmt.ns(_p50(last))} with "
            f"{last.n:,} ({_p50(last) / _p50(first):.2f}×)."  # type: ignore[operator]
        )
    by = {(p.series, p.n): _p50(p) for p in points if _p50(p) is not None}
    ks = sorted(k for s, k in by if s == "hit-last" and ("hit-first", k) in by and k > 1)
    if ks:
        k = ks[-1]
        first, last = by[("hit-first", k)], by[("hit-last", k)]
        per_entry = (last - first) / (k - 1)  # type: ignore[operator]
        text = (
            f"Walk at k = {k}: last-registered {fmt.ns(last)} - first {fmt.ns(first)} = "
            f"{per_entry:.0f} ns per entry registered before the hit"
        )
        miss = by.get(("miss", k))
        lines.append(text + (f"; a miss costs {fmt.ns(miss)}." if miss is not None else "."))
    return lines


FIGURE = Style(bold=False)
"""The style of a figure in the tables: no change on screen, but a style of its
own, so each figure stays a separate run (at its column's x) rather than the
whole row one run whose spacing an SVG viewer lays out in its own font."""


def _add_rows(table: Table, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Add right-aligned columns and rows: each header and figure padded to its
    column's width with unstyled spaces before it, so padding and text stay apart."""
    widths = [max(len(v) for v in column) for column in zip(headers, *rows, strict=True)]
    table.header_style = ""
    for header, width in zip(headers, widths, strict=True):
        label = Text.assemble(" " * (width - len(header)), (header, "bold"))
        table.add_column(label, justify="right", min_width=width)
    for row in rows:
        table.add_row(
            *(
                Text.assemble(" " * (w - len(v)), (v, FIGURE))
                for v, w in zip(row, widths, strict=True)
            )
        )


def decoys_table(points: list[ScalePoint]) -> Table:
    """Ring cost against decoys: every figure of the decoy points measured so far."""
    table = Table(box=box.SIMPLE_HEAD, title="ring cost vs decoys", title_justify="left")
    rows = [
        (
            f"{p.n:,}",
            fmt.ns(p.latency.p50_ns),
            fmt.ns(p.latency.p99_ns),
            fmt.ns(p.latency.mean_ns),
            f"{p.rings:,}",
            "✓" if p.exact else "✗",
        )
        for p in points
        if p.series == "decoys"
    ]
    _add_rows(table, ("decoys", "p50", "p99", "mean", "rings", "exact"), rows)
    return table


def walk_table(points: list[ScalePoint]) -> Table:
    """p50 ring cost against k trigger values at the doorbell, per series."""
    table = Table(box=box.SIMPLE_HEAD, title="p50 vs trigger values (k)", title_justify="left")
    by = {(p.series, p.n): p for p in points}
    rows = []
    for k in sorted({p.n for p in points if p.series in WALK_SERIES}):
        cells = [str(k)]
        for series in WALK_SERIES:
            p = by.get((series, k))
            mark = "" if p is None or p.exact else " ✗"
            cells.append(fmt.DASH if p is None else fmt.ns(_p50(p)) + mark)
        rows.append(tuple(cells))
    _add_rows(table, ("k", *WALK_SERIES), rows)
    return table


class ScalePlotScreen(HeldRunScreen):
    """Sweep the ring cost against registrations, plot each point as it is measured."""

    BINDINGS: ClassVar[list[BindingType]] = held_run_bindings(
        "x", "Stop the sweep and go back to the lab.", "Measure every point again."
    )

    DEFAULT_CSS = """
    ScalePlotScreen { background: $background; }
    ScalePlotScreen #scale-status { padding: 0 1; }
    ScalePlotScreen #scale-live { padding: 0 1; color: $warning; }
    ScalePlotScreen #scale-plots { height: 50vh; min-height: 11; }
    ScalePlotScreen ScalePlot {
        width: 1fr;
        height: 100%;
        border: round $primary 50%;
        border-title-color: $accent;
    }
    ScalePlotScreen #scale-tables { height: auto; }
    ScalePlotScreen #scale-tables Static { width: 1fr; height: auto; padding: 0 1; }
    ScalePlotScreen #scale-explain { padding: 0 1; }
    ScalePlotScreen.-narrow #scale-tables { layout: vertical; }
    """

    @dataclass
    class PointMeasured(Message):
        """One more measured point."""

        point: ScalePoint

    @dataclass
    class Finished(Message):
        """The sweep ended (completely, or stopped by a limit or by closing)."""

        report: ScaleReport
        seconds: float

    def __init__(
        self,
        sweep: SweepPort,
        hold_live: HoldLive | None = None,
        release_live: ReleaseLive | None = None,
    ) -> None:
        """A screen that runs `sweep` once it is shown.

        Args:
            sweep: the sweep to run (the real one, or a test's fake).
            hold_live: pauses the app's live guest for the sweep (in the worker).
            release_live: resumes it once the sweep is over and the screen closed.
        """
        super().__init__(hold_live, release_live)
        self.sweep = sweep
        """The sweep this screen runs."""
        self.points: list[ScalePoint] = []
        """Every point measured by the current run, in order."""
        self.report: ScaleReport | None = None
        """The last finished run."""
        self._live_note = ""

    def compose(self) -> ComposeResult:
        """Status lines, the two plots, the tables, the explanation, the footer."""
        with VerticalScroll(id="scale-body"):
            yield Static(id="scale-status")
            yield Static(id="scale-live")
            with Horizontal(id="scale-plots"):
                yield ScalePlot(self.sweep.sizes or (1, 10), id="decoys-plot")
                yield ScalePlot(self.sweep.trigger_counts or (1, 8), id="walk-plot")
            with Horizontal(id="scale-tables"):
                yield Static(id="decoys-table")
                yield Static(id="walk-table")
            yield Static(id="scale-explain")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the panels and start measuring."""
        bus = self.sweep.bus.value.upper()
        self.query_one(
            "#decoys-plot"
        ).border_title = f"(a) p50 ring cost vs {bus} decoy registrations (log x)"
        self.query_one(
            "#walk-plot"
        ).border_title = "(b) p50 ring cost vs k trigger values at the doorbell (log x)"
        self.query_one("#scale-body").focus()
        self.start_run()

    def start_run(self) -> None:
        """Start afresh: no points yet, the sweep's own VM starting."""
        self.points = []
        self.report = None
        self.running = True
        self._show()
        self._run()

    # ------------------------------------------------------------- the worker

    @work(thread=True, exclusive=True, exit_on_error=False, group="scale")
    def _run(self) -> None:
        """The sweep on its own labs, the live guest held; each point posted (a worker)."""
        worker = get_current_worker()

        def on_point(point: ScalePoint) -> bool:
            self.post_message(self.PointMeasured(point))
            # False stops run_scale after this point: the screen closed.
            return not (worker.is_cancelled or self.gone)

        def progress(what: str) -> None:
            self.post_message(self.Progress(what))

        def measure() -> None:
            started = time.monotonic()
            report = self.sweep.run(on_point, progress)
            self.post_message(self.Finished(report, time.monotonic() - started))

        self.held_run(measure)

    # ------------------------------------------------------------ the results

    @on(HeldRunScreen.LiveHeld)
    def _live_held(self, event: HeldRunScreen.LiveHeld) -> None:
        self._live_note = event.note
        self._show()

    @on(HeldRunScreen.Progress)
    def _progress(self, event: HeldRunScreen.Progress) -> None:
        self._status(f"measuring {event.what}…")

    @on(PointMeasured)
    def _point(self, event: PointMeasured) -> None:
        self.points.append(event.point)
        self._show()

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self.report = event.report
        self.points = list(event.report.points)
        self.running = False
        self._show()
        # A limit that stopped it early is said in the notes below the tables.
        self._status("done")

    @on(HeldRunScreen.Failed)
    def _failed(self, event: HeldRunScreen.Failed) -> None:
        self.running = False
        if not self.points:
            self._status(f"the sweep could not run: {event.message}", error=True)
            self.notify(event.message, title="Scale sweep failed", severity="error")
            return
        # What was measured before the failure stays on screen, with why it stopped.
        note = (
            f"stopped after {len(self.points)} of {expected_points(self.sweep)} points: "
            f"{event.message}"
        )
        self.report = ScaleReport(self.sweep.bus, tuple(self.points), (note,))
        self._show()
        self._status(note, error=True)
        self.notify(note, title="Scale sweep stopped", severity="warning")

    def _status(self, text: str, error: bool = False) -> None:
        sweep = self.sweep
        head = (
            f"{sweep.bus.value.upper()} doorbell {format_addr(sweep.bus, doorbell(sweep))}: "
            f"{len(self.points)} of {expected_points(sweep)} points, "
            f"{sweep.seconds:g} s each · "
        )
        line = Text(head)
        line.append(text, style="bold" if not error else "bold red")
        self.query_one("#scale-status", Static).update(line)

    def _show(self) -> None:
        """Redraw plots, tables and notes from the points measured so far."""
        points = self.points

        def curve(name: str) -> tuple[tuple[float, float], ...]:
            # Points without timed samples have no p50: nothing to draw.
            return tuple((float(p.n), y) for p in points if p.series == name if (y := _p50(p)))

        self.query_one("#decoys-plot", ScalePlot).series = (Series("p50", curve("decoys")),)
        self.query_one("#walk-plot", ScalePlot).series = tuple(
            Series(name, curve(name)) for name in WALK_SERIES
        )
        self.query_one("#decoys-table", Static).update(decoys_table(points))
        self.query_one("#walk-table", Static).update(walk_table(points))
        self.query_one("#scale-live", Static).update(self._live_note)
        explain = Text(EXPLANATION)
        for line in summary(points):
            explain.append("\n" + line, style="bold")
        explain.append(
            "\nEvery figure is measured: the guest's rdtsc around each visit's back-to-back writes "
            "(a sample is a visit's cost per ring), net of the timer overhead, p50 of each "
            "point's own phase; ✗ = the point's rings did not balance.",
            style="dim",
        )
        for note in self.report.notes if self.report else ():
            explain.append(f"\n{note}", style="bold yellow")
        self.query_one("#scale-explain", Static).update(explain)
        if self.running and not points:
            self._status("starting the sweep's own VM…")
