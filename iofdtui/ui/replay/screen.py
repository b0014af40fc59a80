"""The replay screen: the main screen's view of a recording, with a timeline for controls.

The tables, header, detail pane and event log are the main screen's, fed by
the session's poller from a `ReplayLab`, so a recording looks as the session
did.  The keys that would change a lab say in one line that this is a
recording; the timeline's keys (`ui/bindings.py`, scope "replay") move
playback, and each frame's events reach the event log as playback passes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widgets import Static

from iofdtui.ui.bindings import bindings
from iofdtui.ui.messages import LabStarted, Report, SnapshotReady
from iofdtui.ui.rate_history import MAX_READINGS
from iofdtui.ui.replay.replay_lab import ReadOnlyRecording, ReplayLab
from iofdtui.ui.replay.timeline import Timeline, TimelineView, clock_text
from iofdtui.ui.scale_sweep import SweepPort
from iofdtui.ui.screens.main import HISTORY_S, MainScreen
from iofdtui.ui.session import LabSession
from iofdtui.ui.widgets.event_log import MAX_ENTRIES, EventLog
from iofdtui.ui.widgets.lab_header import LabHeader

SEEK_STEP_S = 5.0
"""How far ← and → move, in seconds of the recording."""


def recorded_at(created: str) -> datetime | None:
    """The header's `created` (ISO 8601) as a datetime, or None when it is not one."""
    try:
        return datetime.fromisoformat(created)
    except ValueError:
        return None


def banner(lab: ReplayLab, source: str, follow: bool) -> Content:
    """The line over the header: REPLAY (or FOLLOWING), the file, and who recorded it where."""
    header = lab.header
    mode = " FOLLOWING " if follow else " REPLAY "
    parts: list[str | tuple[str, str]] = [(mode, "bold reverse $warning"), " ", (source, "bold")]
    made = recorded_at(header.created)
    when = made.strftime("%Y-%m-%d %H:%M UTC") if made else header.created
    machine = header.machine
    parts.append(f" · recorded {when} on {machine.kvm_module or 'kvm'} ({header.source})")
    if header.note:
        parts.append((f" · {header.note}", "$text-muted"))
    return Content.assemble(*parts)


class ReplayScreen(MainScreen, inherit_bindings=False):
    """A recording, shown as the live lab was, with a timeline in place of the lab's keys."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("replay") + bindings("main", replay=True)
    STARTING = "opening the recording"

    def __init__(
        self,
        session: LabSession,
        lab: ReplayLab,
        source: str,
        *,
        follow: bool = False,
        clock: Callable[[], datetime] = datetime.now,
        scale_sweep: SweepPort,
    ) -> None:
        """The view of `lab`, a recording read from `source`.

        Args:
            session: the app's session, whose lab factory returns `lab`.
            lab: the recording, read-only.
            source: the file's name, as the banner shows it.
            follow: the recording is still being written (`--follow`).
            clock: time of day for lines that are not the recording's.
            scale_sweep: unused in a replay (`x` is refused), kept for the base screen.
        """
        super().__init__(session, clock=clock, scale_sweep=scale_sweep)
        self.replay = lab
        """The recording shown."""
        self._source = source
        self._follow = follow
        self._recorded = recorded_at(lab.header.created)
        self._shown: int | None = None  # the frame index last shown
        self._seeks = 0
        self._event_times: tuple[float, ...] = ()
        self._event_frames_known = -1  # the frame count _event_times was taken at

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        """The banner, the main screen's panels, and the timeline over the footer."""
        yield Static(banner(self.replay, escape(self._source), self._follow), id="replay-banner")
        yield from super().compose()
        yield Timeline(id="timeline")

    def on_mount(self) -> None:
        """Say what is opening (Textual has already run the main screen's on_mount,
        which starts the session)."""
        self.query_one(LabHeader).starting_note = "opening the recording…"
        if self._follow:
            self.query_one(Timeline).waiting = "waiting for the recording's first frame…"

    # -------------------------------------------------------------- readings

    def show_report(self, report: Report) -> None:
        """As the main screen does, but a started replay says what it plays."""
        if isinstance(report, LabStarted):
            self._opened()
            self.session.poll()
            return
        super().show_report(report)

    def _opened(self) -> None:
        status = self.replay.status()
        length = clock_text(status.end - status.start)
        if self._follow:
            self.log_event(f"following {self._source} ({status.frames:,} frames so far)")
        else:
            self.log_event(f"replaying {self._source}: {status.frames:,} frames, {length}")
        for note in self.replay.take_notes():
            self.log_event(note, "warning")

    def show_reading(self, event: SnapshotReady) -> None:
        """Show the frame, its events (and those played through), and where the timeline is."""
        index = self.replay.index_of(event.snapshot)
        seeks = self.replay.seeks_when_read(event.snapshot)
        if index is not None and seeks is not None:
            self._add_rates(index, seeks)
        super().show_reading(event)
        if not self.query(Timeline):
            return  # a reading that arrived while the app tears its screen down at quit
        if index is not None and seeks is not None:
            self._log_frames(index, seeks)
        for note in self.replay.take_notes():
            self.log_event(note, "warning")
        self.update_timeline()

    def _add_rates(self, index: int, seeks: int) -> None:
        """Give the sparkline the frames before `index` that this reading passed over:
        those played through between readings, or after a jump (and at the
        start) the recording's last minute before it, so its rates are the
        recording's, not only the frames a reading happened to land on."""
        last = self._shown
        floor = max(0, index - MAX_READINGS)  # bounded: a recording is untrusted
        if last is not None and seeks == self._seeks and last <= index:
            first = max(last + 1, floor)
        else:
            since = self.replay.frame(index).snapshot.taken_at - HISTORY_S
            first = index
            while first > floor and self.replay.frame(first - 1).snapshot.taken_at >= since:
                first -= 1
        for i in range(first, index):
            self._rates.add(self.replay.frame(i).snapshot)

    def _log_frames(self, index: int, seeks: int) -> None:
        """Log the events of the frames reached since the last reading: every one
        played through, or only the frame landed on after a jump (`seeks`: the
        jumps made when this reading was taken)."""
        last, jumped = self._shown, seeks != self._seeks
        self._shown, self._seeks = index, seeks
        if last == index and not jumped:
            return
        if last is None:
            reached = range(index + 1)
        elif jumped or index < last:
            reached = range(index, index + 1)
        else:
            reached = range(last + 1, index + 1)
        log = self.query_one(EventLog)
        events = [e for i in reached for e in self.replay.frame(i).events]
        # At once, and only the newest the log keeps: one at a time, a recording
        # with 20,000 events in a frame froze the screen for minutes.
        log.record_many([(self._time_of(e.at), e.text, e.severity) for e in events[-MAX_ENTRIES:]])

    def _time_of(self, at: float) -> datetime:
        """The time of day `at` seconds into the recording (now, if it has no start time
        or `at` is past any date: a recording is untrusted input)."""
        if self._recorded is not None and math.isfinite(at):
            try:
                return self._recorded + timedelta(seconds=at)
            except OverflowError:
                pass
        return self._clock()

    def update_timeline(self) -> None:
        """Draw where playback is now."""
        status = self.replay.status()
        if status.frames == 0:
            return
        if status.frames != self._event_frames_known:
            # Recomputed only when frames arrive (following): a scan of every frame.
            frames = self.replay.frames
            self._event_times = tuple(frames[i].at for i in self.replay.event_frames())
            self._event_frames_known = status.frames
        frame = self.replay.frame(status.frame)
        when = self._time_of(frame.at).strftime("%H:%M:%S") if self._recorded else ""
        for timeline in self.query(Timeline):  # none while the app tears its screen down
            timeline.view = TimelineView(status, self._event_times, when)

    # ---------------------------------------------------------- the timeline

    def _moved(self) -> None:
        """After a key moved playback: redraw the timeline and show its frame now."""
        self.update_timeline()
        self.run_worker(
            self._read_now, name="replay reading", group="replay", thread=True, exclusive=True
        )

    def _read_now(self) -> None:
        # The session's read (under its engine lock), posted as the poller posts.
        reading = self.session.read()
        if reading is not None:
            self.app.post_message(reading)

    def action_play_pause(self) -> None:
        """Play from here, or hold."""
        self.replay.toggle_play()
        self._moved()

    def action_slower(self) -> None:
        """Halve the speed."""
        self.replay.slower()
        self._moved()

    def action_faster(self) -> None:
        """Double the speed."""
        self.replay.faster()
        self._moved()

    def action_seek_back(self) -> None:
        """Five seconds back."""
        self.replay.seek_by(-SEEK_STEP_S)
        self._moved()

    def action_seek_forward(self) -> None:
        """Five seconds on."""
        self.replay.seek_by(SEEK_STEP_S)
        self._moved()

    def action_seek_start(self) -> None:
        """The first frame."""
        self.replay.seek_frame(0)
        self._moved()

    def action_seek_end(self) -> None:
        """The newest frame (live, when following)."""
        self.replay.seek_frame(-1)
        self._moved()

    def action_next_event(self) -> None:
        """The next frame with events."""
        if self.replay.seek_event(forward=True) is None:
            self.notify("No event after this frame.", title="Timeline", severity="warning")
        self._moved()

    def action_previous_event(self) -> None:
        """The previous frame with events."""
        if self.replay.seek_event(forward=False) is None:
            self.notify("No event before this frame.", title="Timeline", severity="warning")
        self._moved()

    @on(Timeline.Seek)
    def _clicked(self, event: Timeline.Seek) -> None:
        self.replay.seek_fraction(event.fraction)
        self._moved()

    # ------------------------------------------- the lab's keys: a recording

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Every key answers (the lab's with a refusal); `p` is Pause's alone."""
        return action != "resume"

    def refuse(self, action: str) -> None:
        """Say, as other refusals are said, that `action` needs a live lab."""
        err = ReadOnlyRecording(action)
        self.log_event(str(err), "warning")
        self.notify(str(err), title=err.title, severity="warning")

    def action_add(self) -> None:
        """Refused: a recording."""
        self.refuse("adding a registration")

    def action_remove(self) -> None:
        """Refused: a recording."""
        self.refuse("removing a registration")

    def action_edit_plan(self) -> None:
        """Refused: a recording."""
        self.refuse("editing the ring plan")

    def action_pause(self) -> None:
        """Refused: a recording (space pauses playback)."""
        self.refuse("pausing the guest")

    def action_resume(self) -> None:
        """Refused: a recording."""
        self.refuse("resuming the guest")

    def action_reset(self) -> None:
        """Refused: a recording."""
        self.refuse("resetting the counters")

    def action_cycle_reader(self) -> None:
        """Refused: a recording."""
        self.refuse("switching the eventfd reader")

    def action_cycle_drain(self) -> None:
        """Refused: a recording."""
        self.refuse("switching the coalesced ring's drain")

    def action_toggle_pace(self) -> None:
        """Refused: a recording."""
        self.refuse("pacing the ring plan")

    def action_toggle_vcpus(self) -> None:
        """Refused: a recording."""
        self.refuse("switching the vCPUs")

    def action_device_work(self) -> None:
        """Refused: a recording."""
        self.refuse("setting a device's work")

    def action_scale_plot(self) -> None:
        """Refused: the sweep runs VMs of its own."""
        self.refuse("the scale sweep")
