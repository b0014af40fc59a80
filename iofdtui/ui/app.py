"""The iofdtui app: add and remove doorbells while the guest rings, and watch.

The app holds what is app-wide: the lab session (`ui/session.py`, every engine
call in a worker), the command palette, the keys that work anywhere (help,
screenshot, quit) and the teardown. The lab's view and its keys are the
`MainScreen` (`ui/screens/main.py`), the app's default screen.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual import on
from textual.app import App
from textual.binding import BindingType
from textual.worker import Worker, WorkerState

from iofdtui.engine.snapshot import MachineFacts, Snapshot
from iofdtui.recording.writer import RecordWriteError
from iofdtui.tour import Tour, default_tour
from iofdtui.ui.bindings import NEEDS_LAB, bindings
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.lab_port import LabFactory, LabPort
from iofdtui.ui.messages import (
    EngineDone,
    EngineFailed,
    LabFailed,
    LabStarted,
    Report,
    SnapshotReady,
)
from iofdtui.ui.roundtrip_port import RoundTripPort
from iofdtui.ui.scale_sweep import KvmSweep, SweepPort
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.help import HelpScreen
from iofdtui.ui.screens.main import MainScreen
from iofdtui.ui.session import (
    CHECKPOINT_EVERY_S,
    REFRESH_INTERVALS,
    LabSession,
    open_real_lab,
)
from iofdtui.ui.session_recording import timestamped_name
from iofdtui.ui.widgets.tour_panel import TourPanel

EXIT_NO_VM = 2
"""Exit status when the test VM cannot start (the same as `iofdtui bench`)."""


class IofdApp(App[int]):
    """Watch KVM ioeventfd doorbells live, beside the userspace-exit baseline."""

    CSS_PATH: ClassVar[list[str]] = ["app.tcss", "tour.tcss"]
    TITLE = "iofdtui"
    COMMANDS = App.COMMANDS | {IofdCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (150, "-wide")]
    BINDINGS: ClassVar[list[BindingType]] = bindings("app")
    REPLAY: ClassVar[bool] = False
    """Whether this app replays a recording (the palette and help offer the timeline)."""

    def __init__(
        self,
        lab_factory: LabFactory | None = None,
        *,
        refresh_interval: float = REFRESH_INTERVALS[0],
        checkpoint_every: float = CHECKPOINT_EVERY_S,
        clock: Callable[[], datetime] = datetime.now,
        screenshot_dir: Path | str = "screenshots",
        scale_sweep: SweepPort | None = None,
        roundtrip: RoundTripPort | None = None,
        vcpus: int = 1,
        pin: bool = False,
        tour: Tour | None = None,
        record: str | Path | None = None,
        traced: bool = False,
    ) -> None:
        """Build the app around a lab factory.

        Args:
            lab_factory: builds the lab (in a worker); may raise `KvmUnavailable`.
                The real engine's when None.
            refresh_interval: seconds between snapshots.
            checkpoint_every: seconds between exact checkpoints (brief pauses).
            clock: time of day for the event log (fixed in layout tests).
            screenshot_dir: where `S` saves SVG screenshots.
            scale_sweep: what `x` measures; the real sweep on /dev/kvm when None.
            roundtrip: what `i` measures; the real round trip on /dev/kvm when None.
            vcpus: vCPUs the VM starts with (`v` switches between one and two).
            pin: pin the vCPU thread(s) to one CPU and the reader and UI to another.
            tour: a guided tour to open at start (`T` opens it, or the shipped one).
            record: record the session to this file from the start (`R` toggles).
            traced: witness the real lab's doorbells with the kernel's tracepoints
                too, where tracefs allows (the doorbells table's traced column).
        """
        super().__init__()
        self.session = LabSession(
            lab_factory or open_real_lab,
            vcpus=vcpus,
            pin=pin,
            refresh_interval=refresh_interval,
            checkpoint_every=checkpoint_every,
            # Opt-in: the tracepoints fire on every guest write, which costs the
            # guest about 30 % of its ring rate on kvm_pvm (benchmarks/bench_ui.py).
            trace_self=traced and lab_factory is None,
        )
        """The lab and every engine call made on it."""
        self._clock = clock
        self._screenshot_dir = Path(screenshot_dir)
        self._main = MainScreen(
            self.session, clock=clock, scale_sweep=scale_sweep or KvmSweep(), roundtrip=roundtrip
        )
        self._tour = tour
        self._record_to = record

    def get_default_screen(self) -> MainScreen:
        """The lab's view."""
        return self._main

    # ------------------------------------------------- what the tests can see

    @property
    def main(self) -> MainScreen:
        """The main screen (the lab's view), whatever screen is on top of it."""
        return self._main

    @property
    def lab(self) -> LabPort | None:
        """The running lab, once the session has built it."""
        return self.session.lab

    @property
    def snapshot(self) -> Snapshot | None:
        """The last snapshot shown."""
        return self._main.snapshot

    @property
    def tour_panel(self) -> TourPanel | None:
        """The guided tour's panel, while one is open."""
        return next(iter(self._main.query(TourPanel)), None)

    @property
    def startup_error(self) -> str | None:
        """Why the VM could not start, if it could not."""
        return self.session.startup_error

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The app's actions that need a lab (pinning) wait for one; the rest work anywhere."""
        if action in NEEDS_LAB and not self.session.ready:
            return None
        return True

    def action_toggle_pinning(self) -> None:
        """Pin the vCPU thread(s) to one CPU and the reader and UI to another, or unpin."""
        self.session.toggle_pinning()

    def action_screenshot(self) -> None:
        """Save an SVG of the screen under screenshots/."""
        self._screenshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(f"iofdtui-{stamp}.svg", str(self._screenshot_dir))
        self.notify(f"Saved {path}", title="Screenshot")
        self._main.log_event(f"screenshot saved to {path}")

    async def action_tour(self) -> None:
        """Open the guided tour (the one `iofdtui tour FILE` named, else the shipped
        one), or give its panel the keys again."""
        panel = self.tour_panel
        if panel is None:
            panel = TourPanel(self._tour or default_tour(), self.session, self._main.log_event)
            await self._main.mount(panel, before="#keys")
        panel.focus()

    def action_toggle_recording(self) -> None:
        """Record every reading and event to a timestamped file here, or stop recording."""
        if self.session.recording.path is None and self.session.lab is not None:
            self._start_recording(timestamped_name(self._clock()), self.session.lab.machine)
            return
        try:
            done = self.session.recording.stop()
        except RecordWriteError as err:
            self.notify(str(err), title="Recording stopped", severity="error")
            self._main.log_event(f"recording failed: {err}", "error")
            return
        if done is not None:
            path, frames = done
            self.notify(f"{frames:,} frames in {path}", title="Recording saved")
            self._main.log_event(f"recording saved: {frames:,} frames in {path}")

    def _start_recording(self, path: str | Path, machine: MachineFacts) -> None:
        try:
            self.session.recording.start(path, machine)
        except RecordWriteError as err:
            self.notify(str(err), title="Not recording", severity="error")
            self._main.log_event(f"not recording: {err}", "error")
            return
        self._main.log_event(f"recording to {path}")

    def action_help(self) -> None:
        """Explain ioeventfd and every column."""
        self.push_screen(HelpScreen(replay=self.REPLAY))

    async def action_quit(self) -> None:
        """Leave; `on_unmount` tears the VM down."""
        error = self.session.startup_error
        if error is not None:
            self.exit(EXIT_NO_VM, EXIT_NO_VM, message=f"iofdtui: {error}")
        else:
            self.exit(0, 0)

    @on(LabStarted)
    @on(LabFailed)
    @on(SnapshotReady)
    @on(EngineDone)
    @on(EngineFailed)
    def _session_report(self, report: Report) -> None:
        # The session's workers are the app's (it is app-wide) and report
        # here, in the app's own message loop; the main screen shows them.
        if isinstance(report, LabStarted) and self._record_to is not None:
            self._start_recording(self._record_to, report.machine)  # before its event lines
            self._record_to = None
        self._main.show_report(report)
        if (panel := self.tour_panel) is not None:
            panel.show_report(report)
        elif isinstance(report, LabStarted) and self._tour is not None:
            self.call_later(self.action_tour)  # `iofdtui tour`: open once the VM is up

    @on(AddRegistrationScreen.Submitted)
    def _add_submitted(self, event: AddRegistrationScreen.Submitted) -> None:
        # The form is a screen of its own: what it posts bubbles to the app.
        self.session.add(event.spec, event.completion, event.vcpus)

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # The session's workers catch the engine's own errors; anything else
        # still gets one readable line, never a traceback.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name}: {error}", title="Unexpected error", severity="error")
            self._main.log_event(f"unexpected error in {event.worker.name}: {error}", "error")

    def on_unmount(self) -> None:
        """Whatever way the app ends, no VM, thread or fd outlives it.

        This is the one engine call made on the event loop: at unmount
        nothing is left to draw, and the close must finish before the process
        exits, so waiting for it here is the point.
        """
        self.session.shutdown()


make_app = IofdApp
"""Build the app (the factory tests and `run_app` call): `make_app(lab_factory, **options)`,
with the real engine's lab when `lab_factory` is None."""


def run_app(vcpus: int = 1, pin: bool = False) -> int:
    """Run the app in the terminal; returns the exit status (2: no VM).

    Args:
        vcpus: vCPUs ringing the plan (1 or 2).
        pin: pin the vCPU thread(s) to one CPU, the reader and the UI to another.
    """
    app = make_app(vcpus=vcpus, pin=pin)
    result = app.run()
    if result is not None:
        return int(result)
    return EXIT_NO_VM if app.startup_error else (app.return_code or 0)


__all__ = ["EXIT_NO_VM", "IofdApp", "make_app", "run_app"]
