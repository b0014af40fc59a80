"""`iofdtui attach PID`: any KVM process's doorbells, live, read-only.

The tracer is opened (and its tracefs instance made) by the command line
before the app starts, so every failure is one line; the app reads it in one
thread worker, `poll()` every POLL_S and a snapshot every refresh, and shows
the counts. Nothing here acts on the attached VM: there is no guest to pause
and no registration to add, so the lab's keys are not offered.  `R` records
every reading, the display paused or not (recording.py); `iofdtui replay`
plays it back (replay.py).
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import datetime
from pathlib import Path
from typing import ClassVar, Protocol

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from iofdtui.engine.attach.snapshot import AttachSnapshot, TraceSetup
from iofdtui.recording.writer import RecordWriteError
from iofdtui.ui.attach.commands import AttachCommands
from iofdtui.ui.attach.header import AttachHeader, header_text
from iofdtui.ui.attach.help import AttachHelpScreen, DoorbellFilterPrompt
from iofdtui.ui.attach.kernel_tables import ExitLatencyTable, TracedIrqsTable
from iofdtui.ui.attach.messages import RecordingStopped, TraceEnded, TraceRead
from iofdtui.ui.attach.recording import AttachRecording
from iofdtui.ui.attach.tables import (
    TracedDoorbellsTable,
    TracedThreadsTable,
    TracedValuesTable,
    doorbell_key,
)
from iofdtui.ui.attach.view import SORT_KEYS, arranged
from iofdtui.ui.bindings import attach_bindings
from iofdtui.ui.session_recording import timestamped_name

POLL_S = 0.2
"""Seconds between reads of the kernel's buffers (a flat-out VM fills 4 MiB in about a second)."""

NOTE = (
    "Attached VM, read-only: its guest, registrations and plan are its own. Adding, removing, "
    "pausing and the reader are the lab's (`iofdtui` on its own VM)."
)


class TracerPort(Protocol):
    """What the app needs of a tracer (the real `Tracer`, or a test's fake)."""

    pid: int

    def poll(self, final: bool = False) -> int:
        """Read and classify what the kernel recorded."""
        ...

    def snapshot(self) -> AttachSnapshot:
        """The counts so far."""
        ...

    def reset(self) -> None:
        """Zero the counts."""
        ...

    def setup(self) -> TraceSetup:
        """What is traced (a recording's header says it)."""
        ...


def process_alive(pid: int) -> bool:
    """Whether `pid` still exists."""
    return os.path.isdir(f"/proc/{pid}")


class AttachApp(App[int]):
    """An attached VM's doorbells: writes, served in the kernel, userspace exits."""

    CSS_PATH = "attach.tcss"
    TITLE = "iofdtui attach"
    COMMANDS = App.COMMANDS | {AttachCommands}
    BINDINGS: ClassVar[list[BindingType]] = attach_bindings()
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]

    REPLAY: ClassVar[bool] = False
    """Whether this app replays a recording (the palette and help offer the timeline)."""

    startup_error: str | None = None
    """Always None: the tracer is open before the app starts (what the CLI's runner asks)."""

    def __init__(
        self,
        tracer: TracerPort,
        *,
        refresh_interval: float = 0.5,
        screenshot_dir: Path | str = "screenshots",
        record: str | Path | None = None,
    ) -> None:
        """The app on `tracer`'s VM; `record`: record to this file from the start (`R` toggles)."""
        super().__init__()
        self.tracer = tracer
        self.refresh_interval = refresh_interval
        self._screenshot_dir = Path(screenshot_dir)
        self._previous: AttachSnapshot | None = None
        self._ended: str | None = None
        self._selected: str | None = None
        self._last: AttachSnapshot | None = None
        self._rates: dict[str, float | None] = {}
        self._share: float | None = None
        self.filter_text = ""
        """Doorbells shown: those whose bus or address contains it (`f`)."""
        self.sort_key = SORT_KEYS[0]
        """The doorbells' order (`o`)."""
        self.display_paused = False
        """The tables held still (`p`); readings go on and the latest shows on resume."""
        self._held: AttachSnapshot | None = None
        self._resets = 0  # `r`s so far: a reading taken before the last one is stale
        self.recording = AttachRecording()
        """The recording of every reading, while one is on (`R`)."""
        self._record_to = record

    def compose(self) -> ComposeResult:
        """Header, note, doorbells, the selected one's values and threads, interrupts and
        exit latency."""
        yield AttachHeader(id="header")
        yield Static(NOTE, id="note")
        yield from self._compose_controls()
        doors = TracedDoorbellsTable(id="doorbells")
        doors.border_title = "Doorbells (kvm_pio, kvm_mmio, kvm_userspace_exit)"
        yield doors
        with Horizontal(id="selected"):
            values = TracedValuesTable(id="values")
            values.border_title = "Selected doorbell, by value"
            yield values
            threads = TracedThreadsTable(id="threads")
            threads.border_title = "by vCPU thread"
            yield threads
        with Horizontal(id="kernel"):
            irqs = TracedIrqsTable(id="irqs")
            irqs.border_title = "Interrupts injected (per vector, per GSI)"
            yield irqs
            exits = ExitLatencyTable(id="exit-latency")
            exits.border_title = "Exit latency (kvm_exit → kvm_entry)"
            yield exits
        # A replay's timeline keys fill 80 columns: compact, and ctrl+p left to the help
        # (as the lab's footer), so h and q stay in view.
        yield Footer(compact=self.REPLAY, show_command_palette=not self.REPLAY)

    def _compose_controls(self) -> ComposeResult:
        """What goes under the note, over the tables (a replay's timeline)."""
        yield from ()

    def on_mount(self) -> None:
        """Start reading (and recording, with `record`)."""
        self.query_one(TracedDoorbellsTable).focus()
        if self._record_to is not None:
            self._start_recording(self._record_to)
        self._start()

    def _start(self) -> None:
        """Start the readings: the tracer's worker (a replay's playback instead)."""
        self._trace()

    def on_unmount(self) -> None:
        """Close the recording, if one is on."""
        # Leaving: nowhere left to say a failure; the file holds every whole line.
        with contextlib.suppress(RecordWriteError):
            self.recording.stop()

    @work(thread=True, exclusive=True, group="trace", exit_on_error=False)
    def _trace(self) -> None:
        """Poll the tracer; post a reading every refresh; stop when the process ends."""
        worker = get_current_worker()
        next_show = 0.0
        while not worker.is_cancelled:
            time.sleep(POLL_S)
            if not process_alive(self.tracer.pid):
                self.tracer.poll(final=True)
                why = "the process ended: these are its last counts"
                self.recording.event(why)
                self._read()
                self.post_message(TraceEnded(why))
                return
            self.tracer.poll()
            if time.monotonic() >= next_show:
                next_show = time.monotonic() + self.refresh_interval
                self._read()

    def _read(self) -> None:
        """Take a reading: record it (in this worker), then show it."""
        resets = self._resets  # before the reading: a reset after it makes it stale
        snap = self.tracer.snapshot()
        failed = self.recording.frame(snap)
        if failed is not None:
            self.post_message(RecordingStopped(failed))
        self.post_message(TraceRead(snap, resets))

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:
            err = event.worker.error
            why = f"reading stopped: {err}; the counts are as of then"
            self.recording.event(why, "error")
            self.post_message(TraceEnded(why))

    def on_trace_read(self, message: TraceRead) -> None:
        """Show a reading (or, with the display paused, keep it for the resume)."""
        if not self.query(AttachHeader):
            return  # a reading that arrived while the app tears its screen down at quit
        if message.resets is not None and message.resets != self._resets:
            return  # taken before a reset that has since zeroed the counts
        if self.display_paused:
            self._held = message.snapshot
            return
        self._show_reading(message.snapshot)

    def _show_reading(self, snap: AttachSnapshot) -> None:
        """Header, doorbells (with writes/s since the last shown), the selected one, kernel."""
        prev = self._previous
        rates: dict[str, float | None] = {}
        share = None
        if prev is not None and snap.elapsed_s > prev.elapsed_s:
            span = snap.elapsed_s - prev.elapsed_s
            before = {doorbell_key(d): d.writes for d in prev.doorbells}
            for d in snap.doorbells:
                rates[doorbell_key(d)] = (d.writes - before.get(doorbell_key(d), 0)) / span
            share = (snap.cost.cpu_s - prev.cost.cpu_s) / span
        self._previous = snap
        self._last = snap
        self._rates, self._share = rates, share
        self._show_header()
        self._show_doorbells()
        self.query_one(TracedIrqsTable).show(snap.interrupts)
        self.query_one(ExitLatencyTable).show(snap.exit_latency)
        self._show_selected()

    def _show_header(self) -> None:
        if self._last is None:
            return
        view = []
        if self.display_paused:
            view.append("DISPLAY PAUSED (tracing goes on; p resumes)")
        if self.filter_text:
            view.append(f"filter {self.filter_text!r}")
        if self.sort_key != SORT_KEYS[0]:
            view.append(f"sorted by {self.sort_key}")
        text = header_text(
            self._last, self._share, self._ended, self.recording.path, self.size.width
        )
        if view:
            text.append("\n" + " · ".join(view), style="bold")
        for header in self.query(AttachHeader):  # none while the app tears its screen down
            header.update(text)

    def _show_doorbells(self) -> None:
        if self._last is not None:
            doors = arranged(self._last.doorbells, self._rates, self.filter_text, self.sort_key)
            self.query_one(TracedDoorbellsTable).show(doors, self._rates)

    def on_trace_ended(self, message: TraceEnded) -> None:
        """Say why tracing stopped, under the header."""
        self._ended = message.why
        if not self.query(AttachHeader):
            return  # the app is tearing its screen down
        self._share = None
        self._show_header()

    @on(TracedDoorbellsTable.RowHighlighted)
    def _row_moved(self, event: TracedDoorbellsTable.RowHighlighted) -> None:
        self._selected = str(event.row_key)
        self._show_selected()

    def _show_selected(self) -> None:
        snap = self._last
        door = None
        if snap is not None:
            shown = arranged(snap.doorbells, self._rates, self.filter_text, self.sort_key)
            door = next((d for d in shown if doorbell_key(d) == self._selected), None)
            if door is None and shown:
                door = shown[0]
        self.query_one(TracedValuesTable).show(door)
        self.query_one(TracedThreadsTable).show(door)

    def action_reset(self) -> None:
        """Zero the counts (tracing goes on)."""
        self.tracer.reset()
        self._resets += 1
        self._previous = None
        self._held = None  # taken before the reset: resuming must not show it
        self.recording.event("counts reset")
        self.notify("counts reset", timeout=2)

    def action_toggle_recording(self) -> None:
        """Record every reading to a timestamped file here, or stop recording."""
        if self.recording.path is None:
            self._start_recording(timestamped_name(prefix="iofdtui-attach"))
            return
        try:
            done = self.recording.stop()
        except RecordWriteError as err:
            self.notify(str(err), title="Recording failed", severity="error")
        else:
            if done is not None:
                path, frames = done
                self.notify(f"recording saved: {frames:,} frames in {path}", timeout=5)
        self._show_header()

    def _start_recording(self, path: str | Path) -> None:
        try:
            self.recording.start(path, self.tracer.setup())
        except RecordWriteError as err:
            self.notify(str(err), title="Not recording", severity="error")
            return
        self.recording.event(f"recording to {path}")
        self.notify(f"recording to {path} (R stops)", timeout=3)
        self._show_header()

    def on_recording_stopped(self, message: RecordingStopped) -> None:
        """A write failed: say so once; tracing goes on."""
        self.notify(message.why, title="Recording stopped", severity="error")
        self._show_header()

    def action_pause_display(self) -> None:
        """Hold the tables still, or show the latest reading again."""
        self.display_paused = not self.display_paused
        if not self.display_paused and self._held is not None:
            held, self._held = self._held, None
            self._show_reading(held)
        else:
            self._show_header()

    def action_filter(self) -> None:
        """Ask for a bus or address fragment to filter the doorbells by."""

        def apply(result: str | None) -> None:
            if result is not None:
                self.filter_text = result
                self._show_header()
                self._show_doorbells()
                self._show_selected()

        self.push_screen(DoorbellFilterPrompt(self.filter_text), apply)

    def action_sort(self) -> None:
        """Cycle the doorbells' order."""
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self._show_header()
        self._show_doorbells()

    def action_help(self) -> None:
        """What every column means, and the keys."""
        self.push_screen(AttachHelpScreen())

    def action_screenshot(self) -> None:
        """Save an SVG of the screen under screenshots/."""
        self._screenshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(f"iofdtui-attach-{stamp}.svg", str(self._screenshot_dir))
        self.notify(f"screenshot saved to {path}", timeout=3)
