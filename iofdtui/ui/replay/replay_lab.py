"""A `LabPort` over a recording's frames: the app's lab, read-only, at the playback position.

Every reading returns the frame the playback clock is on, with its histograms;
every call that would change a lab raises `ReadOnlyRecording`, an engine-style
error whose one line says so.  In follow mode a thread adds frames as the
recording grows.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import Checkpoint, RegistrationStats, Snapshot
from iofdtui.ui.replay.playback import Playback, PlaybackStatus

if TYPE_CHECKING:
    from iofdtui.recording.frames import Frame, Header


class ReadOnlyRecording(EngineError):
    """An action that would change the lab, asked of a recording (errno EROFS)."""

    title = "Recording"

    def __init__(self, action: str) -> None:
        super().__init__(
            errno.EROFS, f"this is a recording: {action} needs a live lab (run iofdtui)"
        )


class ReplayLab:
    """The frames of one recording, answering as a lab does (`ui/lab_port.py`)."""

    any_length = True  # nothing is registered in a replay: no form asks

    def __init__(
        self,
        header: Header,
        frames: Iterable[Frame] = (),
        *,
        follow: bool = False,
        clock: Callable[[], float] = time.monotonic,
        closed: threading.Event | None = None,
    ) -> None:
        """A lab that shows `frames` (and, following, the ones `add_frame` brings).

        Args:
            header: the recording's first line (machine, source, note, created).
            frames: the frames read so far, in order.
            follow: more frames will come; playback stays on the newest.
            clock: the wall clock playback runs on (fixed in tests).
            closed: set by `close()`: a follow reader waiting on it stops at once.
        """
        self.header = header
        """What made the recording."""
        self.machine = header.machine
        self._frames: list[Frame] = list(frames)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._shown = 0
        self._index_of = {id(f.snapshot): i for i, f in enumerate(self._frames)}
        self.playback = Playback([f.at for f in self._frames], follow=follow, clock=clock)
        """The clock; change it only through the methods below (they hold the lock)."""
        self._closed = closed or threading.Event()
        self._notes: list[str] = []
        # Per frame (its snapshot's id): the seek count when it was last read, so
        # the view can tell a reading taken before a jump from one taken after.
        self._read_at_seek: dict[int, int] = {}

    # ------------------------------------------------------------ the frames

    @property
    def frames(self) -> Sequence[Frame]:
        """Every frame so far (a copy: following adds to the lab's own list)."""
        with self._lock:
            return list(self._frames)

    @property
    def closed(self) -> bool:
        """Whether `close()` was called (a follow thread stops)."""
        return self._closed.is_set()

    def add_frame(self, frame: Frame) -> None:
        """A frame the recording gained (follow mode; any thread)."""
        with self._lock:
            self._index_of[id(frame.snapshot)] = len(self._frames)
            self._frames.append(frame)
            self.playback.add(frame.at)
            self._arrived.notify_all()

    def wait_for_frame(self, timeout: float | None) -> bool:
        """Block until the lab has a frame (follow mode, before the first reading)."""
        with self._arrived:
            return self._arrived.wait_for(
                lambda: bool(self._frames) or self._closed.is_set(), timeout
            )

    def index_of(self, snap: Snapshot) -> int | None:
        """Which frame `snap` is (the object a reading returned), or None."""
        with self._lock:
            return self._index_of.get(id(snap))

    def seeks_when_read(self, snap: Snapshot) -> int | None:
        """How many jumps playback had made when `snap` was last read (None: never read)."""
        with self._lock:
            return self._read_at_seek.get(id(snap))

    def frame(self, index: int) -> Frame:
        """Frame `index`."""
        with self._lock:
            return self._frames[index]

    def event_frames(self) -> list[int]:
        """The indices of the frames that carry events, in order."""
        with self._lock:
            return [i for i, f in enumerate(self._frames) if f.events]

    # ------------------------------------------------------------- the clock

    def toggle_play(self) -> bool:
        """Play or pause; returns whether it plays now."""
        with self._lock:
            return self.playback.toggle()

    def slower(self) -> float:
        """Halve the speed (to 0.25× at least); returns it."""
        with self._lock:
            return self.playback.slower()

    def faster(self) -> float:
        """Double the speed (to 8× at most); returns it."""
        with self._lock:
            return self.playback.faster()

    def seek_by(self, delta: float) -> None:
        """Move `delta` seconds."""
        with self._lock:
            self.playback.seek_by(delta)

    def seek_fraction(self, fraction: float) -> None:
        """Move to this fraction of the recording's length (a click on the timeline)."""
        with self._lock:
            pb = self.playback
            pb.seek(pb.start + fraction * (pb.end - pb.start))

    def seek_frame(self, index: int) -> None:
        """Move to frame `index` (0: the first, -1: the newest)."""
        with self._lock:
            count = len(self._frames)
            self.playback.seek_frame(index % count if count else 0)

    def seek_event(self, forward: bool) -> int | None:
        """Move to the next (or previous) frame with events; returns it, or None if none."""
        with self._lock:
            here = self.playback.frame_index()
            marked = [i for i, f in enumerate(self._frames) if f.events]
            ahead = [i for i in marked if i > here] if forward else [i for i in marked if i < here]
            if not ahead:
                return None
            target = ahead[0] if forward else ahead[-1]
            self.playback.seek_frame(target)
            return target

    def status(self) -> PlaybackStatus:
        """Where playback is, at one instant (`seeks` counts the jumps so far)."""
        with self._lock:
            return self.playback.status()

    def note(self, text: str) -> None:
        """Keep a line for the event log (the follow thread's news; any thread)."""
        with self._lock:
            self._notes.append(text)

    def take_notes(self) -> list[str]:
        """The lines kept since the last call."""
        with self._lock:
            notes, self._notes = self._notes, []
            return notes

    # ----------------------------------------------------- LabPort: readings

    def _current(self) -> Frame:
        with self._lock:
            if not self._frames:
                raise EngineError(errno.ENODATA, "the recording has no frame yet; wait for one")
            self._shown = self.playback.frame_index()
            frame = self._frames[self._shown]
            self._read_at_seek[id(frame.snapshot)] = self.playback.seeks
            return frame

    def _shown_frame(self) -> Frame:
        with self._lock:
            return self._frames[self._shown]

    def snapshot(self) -> Snapshot:
        """The frame at the playback position (the histogram calls answer from it)."""
        return self._current().snapshot

    def checkpoint(self) -> Checkpoint | None:
        """The frame's last checkpoint as recorded (nothing is paused); None before the first."""
        return self._current().snapshot.checkpoint

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Its ring cost (paced: the kick) as recorded at the frame shown."""
        return list(self._shown_frame().histograms.registrations.get(reg_id, ()))

    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Its wake-up latency as recorded at the frame shown."""
        return list(self._shown_frame().histograms.wakes.get(reg_id, ()))

    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]:
        """The userspace exit's ring cost as recorded at the frame shown."""
        return list(self._shown_frame().histograms.baselines.get((bus, width), ()))

    def reader_histograms(self, reg_id: int) -> dict[str, list[tuple[float, int]]]:
        """Its stream cost under each reader, as recorded at the frame shown."""
        by_reader = self._shown_frame().histograms.readers.get(reg_id, {})
        return {reader: list(hist) for reader, hist in by_reader.items()}

    def registrations(self) -> dict[int, RegistrationSpec]:
        """The registrations live at the playback position."""
        return {r.id: r.spec for r in self._current().snapshot.registrations}

    def plan(self, vcpu: int = 0) -> list[SlotSpec]:
        """vCPU `vcpu`'s ring plan at the playback position."""
        return [s.spec for s in self._current().snapshot.slots if s.vcpu == vcpu]

    @property
    def vcpus(self) -> int:
        """vCPUs ringing at the playback position."""
        return self._current().snapshot.vcpus if self._frames else self.machine.vcpus

    @property
    def reader(self) -> str:
        """The eventfd reader at the playback position."""
        return self._current().snapshot.consumer

    @property
    def pinning(self) -> str | None:
        """The pinning at the playback position."""
        return self._current().snapshot.pinning

    @property
    def pace_us(self) -> float | None:
        """The pace at the playback position."""
        return self._current().snapshot.pace_us

    @property
    def state(self) -> str:
        """The guest's recorded state at the playback position."""
        return self._current().snapshot.state

    def close(self) -> None:
        """Stop following (a follow thread waiting for a line ends at once)."""
        self._closed.set()
        with self._arrived:
            self._arrived.notify_all()

    # ---------------------------------------------- LabPort: changes refused

    def refuse(self, action: str) -> NoReturn:
        """Raise the read-only refusal for `action` ("adding a registration")."""
        raise ReadOnlyRecording(action)

    def start(self) -> None:
        """Refused: a recording has no guest to start."""
        self.refuse("starting the guest")

    def set_reader(self, mode: str) -> None:
        """Refused."""
        self.refuse("switching the eventfd reader")

    def set_pinning(self, on: bool) -> None:
        """Refused."""
        self.refuse("pinning the threads")

    def set_pace(self, period_us: float | None) -> None:
        """Refused."""
        self.refuse("pacing the ring plan")

    def set_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        """Refused."""
        self.refuse("changing the ring plan")

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """Refused."""
        self.refuse("changing the ring plan")

    def add_registration(self, spec: RegistrationSpec) -> int:
        """Refused."""
        self.refuse("adding a registration")

    def remove_registration(self, reg_id: int) -> RegistrationStats:
        """Refused."""
        self.refuse("removing a registration")

    completions_note = "a recording is replayed as it was"
    """Why no completion can be given: nothing here changes what was recorded."""

    def set_completion(
        self, reg_id: int, route: str | None, vcpu: int = 0, kicker: int | None = None
    ) -> None:
        """Refused."""
        self.refuse("giving a registration a completion")

    def completion(self, reg_id: int) -> CompletionStats | None:
        """A recording carries its completions in its snapshots' registrations."""
        return None

    def share_plan(self, plan: Sequence[SlotSpec]) -> None:
        """Refused."""
        self.refuse("changing the ring plan")

    @property
    def shared_plan(self) -> list[SlotSpec] | None:
        """None: the recording's plans are shown per vCPU, as they were rung."""
        return None

    def set_device_work(self, work_us: float, reg_id: int | None = None) -> None:
        """Refused."""
        self.refuse("setting a device's work")

    def pause(self, timeout: float = 2.0) -> bool:
        """Refused (space pauses the playback)."""
        self.refuse("pausing the guest")

    def resume(self) -> None:
        """Refused."""
        self.refuse("resuming the guest")

    def reset_counters(self) -> None:
        """Refused."""
        self.refuse("resetting the counters")


def follow_into(lab: ReplayLab, items: Iterator[object]) -> None:
    """Add each frame `items` yields to `lab` until the lab closes (a follow thread's body).

    `items` is `recording.reader.follow(path)` after its header.  A bad line
    ends the follow with a note for the event log (the frames so far stay).
    """
    from iofdtui.recording.frames import Frame
    from iofdtui.recording.reader import RecordingError

    try:
        for item in items:
            if lab.closed:
                return
            if isinstance(item, Frame):
                lab.add_frame(item)
    except (RecordingError, OSError) as err:
        lab.note(f"following stopped: {err}")
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()
