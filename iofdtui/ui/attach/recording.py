"""The attached VM's recording (`R`): every reading the app takes, and its events.

The tracing worker hands each reading to `frame()` (its own thread: the disk
never waits on the event loop); the app hands `event()` what it says of a
reset or of tracing ending.  A write that fails stops the recording with one
line; tracing goes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from iofdtui.engine.attach.snapshot import AttachSnapshot, TraceSetup
from iofdtui.recording.attach_frames import attach_header
from iofdtui.recording.frames import Event
from iofdtui.recording.writer import Recorder, RecordWriteError, iofdtui_version


class AttachRecording:
    """The attached app's recorder while one is on (at most one at a time)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # frames come from the worker, events from the loop
        self._recorder: Recorder | None = None
        self._began = 0.0
        self._events: list[Event] = []

    @property
    def path(self) -> str | None:
        """The file being written, or None when not recording."""
        recorder = self._recorder
        return None if recorder is None else recorder.path

    def start(self, path: str | Path, setup: TraceSetup) -> None:
        """Begin recording to `path` (created or truncated).

        Raises:
            RecordWriteError: the file cannot be created (one line).
        """
        recorder = Recorder(path, attach_header(setup, iofdtui_version()))
        with self._lock:
            old, self._recorder = self._recorder, recorder
            self._began = self._clock()
            self._events = []
        if old is not None:
            old.close()

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

    def frame(self, snapshot: AttachSnapshot) -> str | None:
        """Write one reading (blocking); returns why recording stopped when it failed."""
        with self._lock:
            recorder = self._recorder
            if recorder is None:
                return None
            events, self._events = self._events, []
            at = self._clock() - self._began
        try:
            recorder.attach_frame(at, snapshot, events)
        except ValueError:
            return None  # stopped (R) while this reading was on its way: it is not wanted
        except RecordWriteError as err:
            with self._lock:
                if self._recorder is recorder:
                    self._recorder = None
            return str(err)
        return None
