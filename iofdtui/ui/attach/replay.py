"""`iofdtui replay FILE` on an attached VM's recording: the attach view, read-only.

No tracefs, no KVM, no process: the frames are the readings the live app
showed, played back on the lab's replay clock (`ui/replay/playback.py`) with
its timeline and its keys (Space, ← →, < >, Home End, n N).  Each frame is
shown with the frame before it as the previous reading, so the rates are the
ones the live view showed.  The keys that act on the live trace (pause the
display, reset, record) say in one line that this is a recording.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from iofdtui.engine.attach.snapshot import AttachSnapshot, TraceSetup
from iofdtui.recording.attach_frames import AttachFrame
from iofdtui.recording.reader import Recording, RecordingError, read_recording
from iofdtui.ui.attach.app import AttachApp
from iofdtui.ui.bindings import attach_bindings
from iofdtui.ui.replay.playback import SEEK_STEP_S, Playback
from iofdtui.ui.replay.timeline import Timeline, TimelineView, clock_text

MAX_NOTIFIED = 5
"""Most event lines said at once when playback passes several frames' events."""


def open_attach_recording(path: str | os.PathLike[str]) -> Recording:
    """Read an attached VM's recording whole, before any TUI opens.

    Raises:
        RecordingError: unreadable, damaged, not an attached VM's, or no frame;
            one line that names the file.
    """
    name = os.fspath(path)
    try:
        recording = read_recording(name)
    except RecordingError as err:
        text = str(err)
        raise RecordingError(text if text.startswith(name) else f"{name}: {text}") from None
    if recording.header.attach is None:
        raise RecordingError(f"{name}: a lab's recording, not an attached VM's")
    if not recording.attach_frames:
        raise RecordingError(f"{name}: the recording has a header but no frame: nothing to replay")
    return recording


class RecordedTrace:
    """The app's tracer port over a recording: the frame playback is on."""

    def __init__(self, setup: TraceSetup, frames: list[AttachFrame]) -> None:
        self.pid = setup.pid
        self._setup = setup
        self._frames = frames
        self.index = 0
        """The frame shown."""

    def poll(self, final: bool = False) -> int:
        """Nothing to read: the kernel's buffers were read when it was recorded."""
        return 0

    def snapshot(self) -> AttachSnapshot:
        """The frame playback is on."""
        return self._frames[self.index].snapshot

    def reset(self) -> None:
        """Never called: the replay refuses `r`."""
        raise RuntimeError("a recording's counts cannot be reset")

    def setup(self) -> TraceSetup:
        """What was traced, from the header."""
        return self._setup


def replay_note(recording: Recording, source: str) -> Text:
    """The line under the header: REPLAY, the file, and what was traced where and when."""
    header = recording.header
    setup = header.attach
    assert setup is not None
    try:
        when = datetime.fromisoformat(header.created).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        when = header.created[:40]
    return Text.assemble(
        (" REPLAY ", "bold reverse"),
        " ",
        (source, "bold"),
        f" · pid {setup.pid} ({setup.comm}) on {setup.flavour}, kernel {setup.kernel} · "
        f"recorded {when} · {len(setup.events)} tracepoints · read-only: no tracefs, no KVM",
    )


class AttachReplayApp(AttachApp, inherit_bindings=False):
    """An attached VM's recording, shown as the live app showed it, with a timeline."""

    REPLAY: ClassVar[bool] = True
    TITLE = "iofdtui replay (attach)"
    # Not the live app's bindings merged: the timeline's keys first in the footer.
    BINDINGS: ClassVar[list[BindingType]] = [*App.BINDINGS, *attach_bindings(replay=True)]

    def __init__(
        self,
        recording: Recording,
        source: str,
        *,
        refresh_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        screenshot_dir: Path | str = "screenshots",
    ) -> None:
        """The view of `recording` (from `open_attach_recording`), read from `source`.

        Args:
            recording: an attached VM's recording with at least one frame.
            source: what the banner calls it.
            refresh_interval: seconds between looks at the playback position.
            clock: the wall clock playback runs on (fixed in tests).
            screenshot_dir: where `S` saves SVG screenshots.
        """
        assert recording.header.attach is not None and recording.attach_frames
        self.frames = recording.attach_frames
        """Every frame, in order."""
        self.trace = RecordedTrace(recording.header.attach, self.frames)
        super().__init__(
            self.trace, refresh_interval=refresh_interval, screenshot_dir=screenshot_dir
        )
        self.recording_read = recording
        self.playback = Playback([f.at for f in self.frames], clock=clock)
        """Where playback is (paused at the first frame)."""
        self._source = source
        self._shown: int | None = None
        self._seeks = 0
        self._event_frames = [i for i, f in enumerate(self.frames) if f.events]
        self._event_times = tuple(self.frames[i].at for i in self._event_frames)
        try:
            self._recorded: datetime | None = datetime.fromisoformat(recording.header.created)
        except ValueError:
            self._recorded = None

    def _compose_controls(self) -> ComposeResult:
        """The lab replay's timeline, under the note (where the eye is, over the tables)."""
        yield Timeline(id="timeline")

    def _start(self) -> None:
        """Show the first frame and follow the playback position."""
        note = self.query_one("#note", Static)
        note.update(replay_note(self.recording_read, self._source))
        note.add_class("-replay")  # one line, cut to fit (attach.tcss)
        for note in self.recording_read.notes:
            self.notify(note, title="Recording", severity="warning")
        self._tick()
        self.set_interval(self.refresh_interval, self._tick)

    def _tick(self) -> None:
        """Show the frame playback is on, if it moved, and the timeline."""
        if not self.query(Timeline):
            return  # a tick while the app tears its screen down at quit
        index = self.playback.frame_index()
        if index != self._shown or self.playback.seeks != self._seeks:
            self._reach(index)
        frame = self.frames[index]
        when = ""
        if self._recorded is not None:
            # A recording is untrusted: a time past any date shows none.
            with contextlib.suppress(OverflowError):
                when = (self._recorded + timedelta(seconds=frame.at)).strftime("%H:%M:%S")
        self.query_one(Timeline).view = TimelineView(
            self.playback.status(), self._event_times, when
        )

    def _reach(self, index: int) -> None:
        """Show frame `index`; say the events of the frames played through to it (after a
        jump, the frame landed on's alone)."""
        last, jumped = self._shown, self.playback.seeks != self._seeks
        self._shown, self._seeks = index, self.playback.seeks
        if last is None or jumped or index < last:
            reached = range(index, index + 1)
        else:
            reached = range(last + 1, index + 1)
        events = [e for i in reached for e in self.frames[i].events]
        for e in events[-MAX_NOTIFIED:]:  # bounded: a recording is untrusted
            self.notify(e.text, title=f"at {clock_text(e.at)}", severity=_severity(e.severity))
        # The newest event at or before this frame, under the header (found by bisection:
        # a recording may hold a million frames).
        at = bisect.bisect_right(self._event_frames, index)
        latest = self.frames[self._event_frames[at - 1]].events[-1] if at else None
        self._ended = None if latest is None else f"at {clock_text(latest.at)}: {latest.text}"
        self.trace.index = index
        # The frame before as the previous reading: the rates the live view showed.
        self._previous = self.frames[index - 1].snapshot if index else None
        self._show_reading(self.frames[index].snapshot)

    # ---------------------------------------------------------- the timeline

    def _moved(self) -> None:
        self._tick()

    def action_play_pause(self) -> None:
        """Play from here, or hold."""
        self.playback.toggle()
        self._moved()

    def action_slower(self) -> None:
        """Halve the speed."""
        self.playback.slower()
        self._moved()

    def action_faster(self) -> None:
        """Double the speed."""
        self.playback.faster()
        self._moved()

    def action_seek_back(self) -> None:
        """Five seconds back."""
        self.playback.seek_by(-SEEK_STEP_S)
        self._moved()

    def action_seek_forward(self) -> None:
        """Five seconds on."""
        self.playback.seek_by(SEEK_STEP_S)
        self._moved()

    def action_seek_start(self) -> None:
        """The first frame."""
        self.playback.seek_frame(0)
        self._moved()

    def action_seek_end(self) -> None:
        """The last frame."""
        self.playback.seek_frame(len(self.frames) - 1)
        self._moved()

    def action_next_event(self) -> None:
        """The next frame with events."""
        self._seek_event(forward=True)

    def action_previous_event(self) -> None:
        """The previous frame with events."""
        self._seek_event(forward=False)

    def _seek_event(self, forward: bool) -> None:
        times = self._event_times
        here = self.frames[self.playback.frame_index()].at
        if forward:
            i = bisect.bisect_right(times, here)
            target = times[i] if i < len(times) else None
        else:
            i = bisect.bisect_left(times, here)
            target = times[i - 1] if i > 0 else None
        if target is None:
            where = "after" if forward else "before"
            self.notify(f"No event {where} this frame.", title="Timeline", severity="warning")
            return
        self.playback.seek(target)
        self._moved()

    @on(Timeline.Seek)
    def _clicked(self, event: Timeline.Seek) -> None:
        start, end = self.playback.start, self.playback.end
        self.playback.seek(start + event.fraction * (end - start))
        self._moved()

    # ------------------------------------------- the live trace's keys: a recording

    def _refuse(self, what: str) -> None:
        self.notify(
            f"{what}: this is a recording of pid {self.trace.pid}; attach to a running VM "
            f"(iofdtui attach PID) for a live trace",
            title="Read-only recording",
            severity="warning",
        )

    def action_pause_display(self) -> None:
        """Refused: Space holds playback."""
        self._refuse("pausing the display (Space pauses playback)")

    def action_reset(self) -> None:
        """Refused: a recording's counts are as recorded."""
        self._refuse("resetting the counts")

    def action_toggle_recording(self) -> None:
        """Refused: a replay records nothing (the recording is the file it plays)."""
        self._refuse("recording")


def _severity(severity: str) -> str:
    return "error" if severity == "error" else "warning" if severity == "warning" else "information"
