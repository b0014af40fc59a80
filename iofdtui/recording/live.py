"""One recording at a time, written while an app runs: the part every app's `R` shares.

Frames come from a worker thread (the disk never waits on the event loop),
events from the event loop; a lock orders the two. Starting a new recording
closes the old one; a write that fails stops the recording with one line,
and the app goes on. Subclasses add what their frames hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from iofdtui.recording.frames import Event
from iofdtui.recording.writer import Recorder, RecordWriteError


class LiveRecording:
    """The recorder while one is on, its clock and the events for the next frame."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # frames come from a worker, events from the loop
        self._recorder: Recorder | None = None
        self._began = 0.0
        self._events: list[Event] = []

    @property
    def path(self) -> str | None:
        """The file being written, or None when not recording."""
        recorder = self._recorder
        return None if recorder is None else recorder.path

    def _begin(self, recorder: Recorder) -> None:
        """Record to `recorder` from now on (closing any recording before it)."""
        with self._lock:
            old, self._recorder = self._recorder, recorder
            self._began = self._clock()
            self._events = []
            self._started()
        if old is not None:
            old.close()

    def _started(self) -> None:
        """A subclass's own state back to a fresh recording's (the lock held)."""

    def stop(self) -> tuple[str, int] | None:
        """End the recording; returns (file, frames written), or None when none was on.

        Raises:
            RecordWriteError: the last bytes could not be written (one line).
        """
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        recorder.close()
        return recorder.path, recorder.frames

    def event(self, text: str, severity: str = "information") -> None:
        """A line for the next frame (nothing when not recording)."""
        with self._lock:
            if self._recorder is not None:
                self._events.append(Event(self._clock() - self._began, text, severity))

    def _write(self, recorder: Recorder, write: Callable[[], None]) -> str | None:
        """Run `write` (one frame to `recorder`); returns why recording stopped, else None."""
        try:
            write()
        except ValueError:
            return None  # stopped (R) while this reading was on its way: it is not wanted
        except RecordWriteError as err:
            with self._lock:
                if self._recorder is recorder:
                    self._recorder = None
            return str(err)
        return None
