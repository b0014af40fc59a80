"""The scale screen: what does a registration cost the guest? Measured, then plotted.

A thread worker runs the sweep (its own labs, seconds of `KVM_RUN`) while the
app's live guest is held paused, so the two VMs do not share the CPUs; each
measured point is posted back and plotted as it arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich import box
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Footer, Static
from textual.worker import get_current_worker

from iofdtui.engine.experiments.scale import ScalePoint, ScaleReport
from iofdtui.engine.model import format_addr
from iofdtui.reports import format as fmt
from iofdtui.ui.scale_sweep import SweepPort, doorbell, expected_points
from iofdtui.ui.widgets.scale_plot import ScalePlot, Series

WALK_SERIES: tuple[str, ...] = ("hit-first", "hit-last", "miss")
"""The trigger-value series, in legend order."""

HoldLive = Callable[[], tuple[str, bool]]
"""Pause the app's live guest (blocking); returns what to say, and whether it was paused."""

ReleaseLive = Callable[[], None]
"""Let the live guest ring again (blocking)."""

_ONE_SWEEP = threading.Lock()
"""One sweep at a time: a new one waits for a stopping one to let go of the CPUs."""

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


class ScalePlotScreen(ModalScreen[None]):
    """Sweep the ring cost against registrations, plot each point as it is measured.

    Modal, so the main screen's keys (pause, add...) cannot reach the live
    lab while the sweep holds it paused.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Stop the sweep and go back to the lab."),
        Binding("x", "close", "Close", show=False),
        # As on the help screen: q closes this screen, and q on the lab quits.
        Binding("q", "close", "Close", show=False),
        Binding("r", "rerun", "Run again", tooltip="Measure every point again."),
        Binding("S", "app.screenshot", "SVG", tooltip="Save an SVG to screenshots/."),
    ]

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

    running: reactive[bool] = reactive(False, bindings=True)
    """Whether a sweep is measuring; `r` is offered only when none is."""

    @dataclass
    class LiveHeld(Message):
        """The live guest's fate for this sweep, in words."""

        note: str

    @dataclass
    class Progress(Message):
        """What the sweep is measuring now."""

        what: str

    @dataclass
    class PointMeasured(Message):
        """One more measured point."""

        point: ScalePoint

    @dataclass
    class Finished(Message):
        """The sweep ended (completely, or stopped by a limit or by closing)."""

        report: ScaleReport
        seconds: float

    @dataclass
    class Failed(Message):
        """The sweep could not run; `message` is one line."""

        message: str

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
        super().__init__()
        self.sweep = sweep
        """The sweep this screen runs."""
        self.points: list[ScalePoint] = []
        """Every point measured by the current run, in order."""
        self.report: ScaleReport | None = None
        """The last finished run."""
        self._hold_live = hold_live
        self._release_live = release_live
        self._screen_gone = threading.Event()
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
        self._start()

    def _start(self) -> None:
        self.points = []
        self.report = None
        self.running = True
        self._show()
        self._run(self.app)

    # ------------------------------------------------------------- the worker

    @work(thread=True, exclusive=True, exit_on_error=False, group="scale")
    def _run(self, app: object) -> None:
        """Hold the live guest, run the sweep, post each point (blocking: a worker)."""
        worker = get_current_worker()

        def on_point(point: ScalePoint) -> bool:
            self.post_message(self.PointMeasured(point))
            # False stops run_scale after this point: the screen closed.
            return not (worker.is_cancelled or self._screen_gone.is_set())

        def progress(what: str) -> None:
            self.post_message(self.Progress(what))

        with _ONE_SWEEP:
            if self._screen_gone.is_set():
                return
            note, held = self._hold_live() if self._hold_live else ("", False)
            self.post_message(self.LiveHeld(note))
            started = time.monotonic()
            try:
                report = self.sweep.run(on_point, progress)
            except OSError as err:  # KvmUnavailable, EngineError, EMFILE: one line each
                # strerror is the engine's one-line message, or the bare errno's text.
                self.post_message(self.Failed(err.strerror or str(err)))
            else:
                self.post_message(self.Finished(report, time.monotonic() - started))
            finally:
                if held and self._release_live is not None:
                    # The live guest stays paused while the results are on screen.
                    while not self._screen_gone.wait(0.1) and not worker.is_cancelled:
                        pass
                    self._release_live()

    # ------------------------------------------------------------ the results

    @on(LiveHeld)
    def _live_held(self, event: LiveHeld) -> None:
        self._live_note = event.note
        self._show()

    @on(Progress)
    def _progress(self, event: Progress) -> None:
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

    @on(Failed)
    def _failed(self, event: Failed) -> None:
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

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`r` only once the sweep is over."""
        if action == "rerun":
            return not self.running
        return True

    def action_rerun(self) -> None:
        """Measure every point again."""
        self._start()

    def action_close(self) -> None:
        """Back to the lab; a running sweep stops after its current point."""
        self._screen_gone.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        """However the screen goes (even at quit), the sweep stops and the guest is let go."""
        self._screen_gone.set()
