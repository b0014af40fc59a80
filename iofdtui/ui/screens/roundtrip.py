"""The round-trip screen (`i`): kick → completion interrupt, per path and stage.

A thread worker runs the round trip on a VM of its own (an in-kernel
irqchip; engine/roundtrip.py) while the app's live guest is held paused, so
the two VMs do not share the CPUs; the result is drawn as stacked stage bars
and a table, with every count's verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static

from iofdtui.engine.roundtrip_figures import STAGE_NOTE, RoundTripReport
from iofdtui.reports.blocks import titled_table
from iofdtui.reports.roundtrip import COLUMNS, row
from iofdtui.ui.roundtrip_port import RoundTripPort
from iofdtui.ui.screens.held_run import HeldRunScreen, HoldLive, ReleaseLive, held_run_bindings
from iofdtui.ui.widgets.stage_bars import StageBars


class RoundTripScreen(HeldRunScreen):
    """Measure the notification loop's both halves and show where a kick's time goes."""

    BINDINGS: ClassVar[list[BindingType]] = held_run_bindings(
        "i", "Go back to the lab.", "Measure every path again."
    )

    DEFAULT_CSS = """
    RoundTripScreen { background: $background; }
    RoundTripScreen #rt-status { padding: 0 1; }
    RoundTripScreen #rt-live { padding: 0 1; color: $warning; }
    RoundTripScreen StageBars {
        border: round $primary 50%;
        border-title-color: $accent;
    }
    RoundTripScreen #rt-table { height: auto; padding: 0 1; }
    RoundTripScreen #rt-explain { padding: 0 1; color: $text-muted; }
    """

    @dataclass
    class Finished(Message):
        """Every path measured."""

        report: RoundTripReport

    def __init__(
        self,
        port: RoundTripPort,
        hold_live: HoldLive | None = None,
        release_live: ReleaseLive | None = None,
    ) -> None:
        """A screen that runs `port` once it is shown.

        Args:
            port: the round trip to run (the real one, or a test's fake).
            hold_live: pauses the app's live guest for the run (in the worker).
            release_live: resumes it once the screen is closed.
        """
        super().__init__(hold_live, release_live)
        self.port = port
        """What this screen runs."""
        self.report: RoundTripReport | None = None
        """The last finished run."""

    def compose(self) -> ComposeResult:
        """Status, stage bars, the table, what the figures are, the footer."""
        with VerticalScroll(id="rt-body"):
            yield Static(id="rt-status")
            yield Static(id="rt-live")
            yield StageBars(id="rt-bars")
            yield Static(id="rt-table")
            yield Static(id="rt-explain")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        """Title the bars and start measuring."""
        self.query_one(
            StageBars
        ).border_title = "round trip: guest kick → completion interrupt handler, p50 per stage"
        self.query_one("#rt-body").focus()
        self.start_run()

    def start_run(self) -> None:
        """Say that the run starts, and start it."""
        self.running = True
        self._status("starting the round trip's own VM (in-kernel irqchip)…")
        self._run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="roundtrip")
    def _run(self) -> None:
        """Every path, on the round trip's own VM, the live guest held (a worker)."""

        def measure() -> None:
            report = self.port.run(lambda what: self.post_message(self.Progress(what)))
            self.post_message(self.Finished(report))

        self.held_run(measure)

    @on(HeldRunScreen.LiveHeld)
    def _live_held(self, event: HeldRunScreen.LiveHeld) -> None:
        self.query_one("#rt-live", Static).update(event.note)

    @on(HeldRunScreen.Progress)
    def _progress(self, event: HeldRunScreen.Progress) -> None:
        self._status(f"measuring {event.what}…")

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self.report = event.report
        self.running = False
        self._show(event.report)
        exact = all(r.exact for r in event.report.results)
        self._status("done: every kick answered once" if exact else "done: counts ✗", not exact)

    @on(HeldRunScreen.Failed)
    def _failed(self, event: HeldRunScreen.Failed) -> None:
        self.running = False
        self._status(f"the round trip could not run: {event.message}", error=True)
        self.notify(event.message, title="Round trip failed", severity="error")

    def _status(self, text: str, error: bool = False) -> None:
        line = Text(f"{self.port.seconds:g} s per path · ")
        line.append(text, style="bold red" if error else "bold")
        self.query_one("#rt-status", Static).update(line)

    def _show(self, report: RoundTripReport) -> None:
        self.query_one(StageBars).results = report.results
        table = titled_table(
            "per path (ns; --json in `iofdtui bench --roundtrip`)",
            COLUMNS,
            ("path", "bus", "route", "reader"),
            no_wrap=False,  # a narrow terminal wraps a name; a figure is never cut
        )
        for result in report.results:
            table.add_row(*row(result))
        self.query_one("#rt-table", Static).update(table)
        explain = Text(STAGE_NOTE + ".")
        if report.machine.get("emulated"):
            explain.append(f"\n{report.machine['emulation_note']}", style="bold yellow")
        if report.machine.get("clock_note"):
            explain.append(f"\nno stages: {report.machine['clock_note']}", style="bold yellow")
        self.query_one("#rt-explain", Static).update(explain)
