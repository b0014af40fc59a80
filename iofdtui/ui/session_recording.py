"""The app's recording (`--record FILE`, or `R`): every reading and every event-log line.

The session's poller hands each reading to `frame()` (its own thread, under
the engine lock, so extra histogram calls are safe); the main screen hands
each event-log line to `event()` (the event loop).  Histograms: the selected
registration's at every reading (the reading already carries them for the
detail pane), and every other registration's that rang since its were last
recorded, at the first frame and at each checkpoint (about once a second):
reading them costs the poller a few ms each, which the guest would feel at
every reading.  The writer stores only the ones that changed.  A write that
fails stops the recording with one line; the session goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from iofdtui.capture.histograms import read_histograms, rung
from iofdtui.engine.snapshot import MachineFacts, Snapshot
from iofdtui.recording.frames import Histograms
from iofdtui.recording.live import LiveRecording
from iofdtui.recording.writer import Recorder, freeze, new_header
from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.messages import SnapshotReady


def timestamped_name(now: datetime | None = None, prefix: str = "iofdtui") -> str:
    """The file `R` records to in the current directory: iofdtui-YYYYmmdd-HHMMSS.jsonl.gz
    (`prefix` first), with -2, -3, ... before the suffix when that exists (never
    overwrite a recording)."""
    stem = f"{prefix}-{(now or datetime.now()).strftime('%Y%m%d-%H%M%S')}"
    name, n = f"{stem}.jsonl.gz", 1
    while Path(name).exists():
        n += 1
        name = f"{stem}-{n}.jsonl.gz"
    return name


class SessionRecording(LiveRecording):
    """The app's recorder while one is on (at most one at a time)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self._previous: Snapshot | None = None  # when others' histograms were last read

    def start(self, path: str | Path, machine: MachineFacts) -> None:
        """Begin recording to `path` (created or truncated).

        Raises:
            RecordWriteError: the file cannot be created (one line).
        """
        self._begin(Recorder(path, new_header(machine, "app")))

    def _started(self) -> None:
        self._previous = None

    def frame(self, lab: LabPort, reading: SnapshotReady, checkpoint: bool) -> str | None:
        """Write one reading (blocking: the poller's thread, under the engine lock).

        Args:
            lab: the lab, for the histograms of registrations other than the selected.
            reading: what the poller read.
            checkpoint: the reading followed a checkpoint (others' histograms are read).

        Returns why recording stopped when the write failed, else None.
        """
        with self._lock:
            recorder, began, previous = self._recorder, self._began, self._previous
            if recorder is None:
                return None
            events, self._events = self._events, []
            others_due = checkpoint or previous is None
            if others_due:
                self._previous = reading.snapshot
        # Outside the lock: the event loop's event() never waits for the lab or the disk.
        snap = reading.snapshot
        histograms = _selected(reading)
        if others_due:
            others = [r for r in rung(snap, previous) if r.id != reading.selected]
            histograms = read_histograms(lab, snap, others).merged(histograms)
        at = self._clock() - began
        return self._write(recorder, lambda: recorder.frame(at, snap, histograms, events))


def _selected(reading: SnapshotReady) -> Histograms:
    """The selected registration's histograms, as the reading carries them for the pane."""
    reg_id = reading.selected
    if reg_id is None:
        return Histograms()
    snap = reading.snapshot
    row = next((r for r in snap.registrations if r.id == reg_id), None)
    baselines = {}
    if row is not None:
        baselines[(row.spec.bus, row.baseline_width)] = freeze(reading.baseline_histogram)
    if snap.pace_us is not None:
        return Histograms(
            registrations={reg_id: freeze(reading.histogram)},
            wakes={reg_id: freeze(reading.wake_histogram)},
            baselines=baselines,
        )
    readers = {name: freeze(h) for name, h in reading.reader_histograms.items()}
    return Histograms(baselines=baselines, readers={reg_id: readers})
