"""The attached VM's recording (`R`): every reading the app takes, and its events.

The tracing worker hands each reading to `frame()` (its own thread: the disk
never waits on the event loop); the app hands `event()` what it says of a
reset or of tracing ending.  A write that fails stops the recording with one
line; tracing goes on.
"""

from __future__ import annotations

from pathlib import Path

from iofdtui.engine.attach.snapshot import AttachSnapshot, TraceSetup
from iofdtui.recording.attach_frames import attach_header
from iofdtui.recording.live import LiveRecording
from iofdtui.recording.writer import Recorder, iofdtui_version


class AttachRecording(LiveRecording):
    """The attached app's recorder while one is on (at most one at a time)."""

    def start(self, path: str | Path, setup: TraceSetup) -> None:
        """Begin recording to `path` (created or truncated).

        Raises:
            RecordWriteError: the file cannot be created (one line).
        """
        self._begin(Recorder(path, attach_header(setup, iofdtui_version())))

    def frame(self, snapshot: AttachSnapshot) -> str | None:
        """Write one reading (blocking); returns why recording stopped when it failed."""
        with self._lock:
            recorder = self._recorder
            if recorder is None:
                return None
            events, self._events = self._events, []
            at = self._clock() - self._began
        return self._write(recorder, lambda: recorder.attach_frame(at, snapshot, events))
