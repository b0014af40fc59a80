"""Which histograms a frame carries, read from a lab.

A frame carries the detail pane's histograms of the registrations that rang
since their histograms were last read (their signals moved): `iofdtui
record` reads them at every reading, the app at each checkpoint (and the
selected registration's at every reading, which the pane needs anyway).
For each: flat out, its stream cost under every reader measured since reset;
paced, its kick and its wake-up latency; either way the userspace exit's of
its bus and width.  A registration that did not ring keeps the histograms it
had (the writer stores only changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import RegistrationStats, Snapshot
from iofdtui.recording.frames import Histogram, Histograms
from iofdtui.recording.writer import freeze


class HistogramSource(Protocol):
    """The lab's histogram calls (the engine's `Lab`, or the app's `LabPort`)."""

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]: ...
    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]: ...
    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]: ...
    def reader_histograms(self, reg_id: int) -> dict[str, list[tuple[float, int]]]: ...


def rung(snapshot: Snapshot, previous: Snapshot | None) -> list[RegistrationStats]:
    """The live registrations whose signals moved since `previous` (all of them at first)."""
    before = {} if previous is None else {r.id: r.signals for r in previous.registrations}
    return [r for r in snapshot.registrations if before.get(r.id) != r.signals]


def read_histograms(
    lab: HistogramSource, snapshot: Snapshot, rows: Iterable[RegistrationStats]
) -> Histograms:
    """The detail pane's histograms of `rows` (blocking: the lab's own calls)."""
    paced = snapshot.pace_us is not None
    registrations: dict[int, Histogram] = {}
    wakes: dict[int, Histogram] = {}
    readers: dict[int, dict[str, Histogram]] = {}
    baselines: dict[tuple[Bus, int], Histogram] = {}
    for row in rows:
        if paced:
            registrations[row.id] = freeze(lab.registration_histogram(row.id))
            wakes[row.id] = freeze(lab.wake_histogram(row.id))
        else:
            got = lab.reader_histograms(row.id)
            readers[row.id] = {name: freeze(h) for name, h in got.items()}
        key = (row.spec.bus, row.baseline_width)
        if key not in baselines:
            baselines[key] = freeze(lab.baseline_histogram(*key))
    return Histograms(registrations, wakes, baselines, readers)
