"""The round-trip screen (`i`): kick → completion interrupt, per path and stage.

A thread worker runs the round trip on a VM of its own (an in-kernel
irqchip; engine/roundtrip.py) while the app's live guest is held paused, so
the two VMs do not share the CPUs; the result is drawn as stacked stage bars
and a table, with every count's verdict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from iofdtui.engine.roundtrip_figures import STAGE_NOTE, RoundTripReport
from iofdtui.reports.blocks import titled_table
from iofdtui.reports.roundtrip import COLUMNS, row
from iofdtui.ui.roundtrip_port import RoundTripPort
from iofdtui.ui.screens.scale_plot import HoldLive, ReleaseLive
from iofdtui.ui.widgets.stage_bars import StageBars

_ONE_RUN = threading.Lock()
"""One round-trip VM at a time."""


class RoundTripScreen(ModalScreen[None]):
    """Measure the notification loop's both halves and show where a kick's time goes.

    Modal, so the main screen's keys cannot reach the live lab while it is held.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", tooltip="Go back to the lab."),
        Binding("i", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
        Binding("r", "rerun", "Run again", tooltip="Measure every path again."),
        Binding("S", "app.screenshot", "SVG", tooltip="Save an SVG to screenshots/."),
    ]

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

    running: reactive[bool] = reactive(False, bindings=True)
    """Whether a run is measuring; `r` is offered only when none is."""

    @dataclass
    class LiveHeld(Message):
        """The live guest's fate for this run, in words."""

        note: str

    @dataclass
    class Progress(Message):
        """What is being measured now."""

        what: str

    @dataclass
    class Finished(Message):
        """Every path measured."""

        report: RoundTripReport

    @dataclass
    class Failed(Message):
        """The run could not be made; `message` is one line with the cause and the fix."""

        message: str

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
        super().__init__()
        self.port = port
        """What this screen runs."""
        self.report: RoundTripReport | None = None
        """The last finished run."""
        self._hold_live = hold_live
        self._release_live = release_live
        self._screen_gone = threading.Event()
        self._rerun = threading.Event()
        self._held = False  # the live guest is held, by the run that ended, for the next

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
        self._start()

    def _start(self) -> None:
        self.running = True
        self._status("starting the round trip's own VM (in-kernel irqchip)…")
        self._run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="roundtrip")
    def _run(self) -> None:
        """Hold the live guest, run every path, post the report (blocking: a worker).

        The live guest stays paused while the results are on screen; a rerun
        (`r`) takes the hold over, and closing the screen lets it go.
        """
        with _ONE_RUN:
            self._rerun.clear()
            held, self._held = self._held, False
            if not held and not self._screen_gone.is_set() and self._hold_live:
                note, held = self._hold_live()
                self.post_message(self.LiveHeld(note))
            try:
                if not self._screen_gone.is_set():
                    report = self.port.run(lambda what: self.post_message(self.Progress(what)))
                    self.post_message(self.Finished(report))
            except OSError as err:  # KvmUnavailable, CompletionsUnsupported: one line each
                self.post_message(self.Failed(err.strerror or str(err)))
            finally:
                while held and not self._screen_gone.wait(0.1) and not self._rerun.is_set():
                    pass
                if held and not self._screen_gone.is_set():
                    self._held = True  # the rerun's worker, waiting for the lock, keeps it
                elif held and self._release_live is not None:
                    self._release_live()

    @on(LiveHeld)
    def _live_held(self, event: LiveHeld) -> None:
        self.query_one("#rt-live", Static).update(event.note)

    @on(Progress)
    def _progress(self, event: Progress) -> None:
        self._status(f"measuring {event.what}…")

    @on(Finished)
    def _finished(self, event: Finished) -> None:
        self.report = event.report
        self.running = False
        self._show(event.report)
        exact = all(r.exact for r in event.report.results)
        self._status("done: every kick answered once" if exact else "done: counts ✗", not exact)

    @on(Failed)
    def _failed(self, event: Failed) -> None:
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

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`r` only once the run is over."""
        if action == "rerun":
            return not self.running
        return True

    def action_rerun(self) -> None:
        """Measure every path again (the live guest stays paused)."""
        self._rerun.set()
        self._start()

    def action_close(self) -> None:
        """Back to the lab (a run in progress finishes on its own VM, then lets go)."""
        self._screen_gone.set()
        self.dismiss(None)

    def on_unmount(self) -> None:
        """However the screen goes, the live guest is let go."""
        self._screen_gone.set()
