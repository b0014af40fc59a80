"""What a recording holds: a header, then one frame per reading.

The file format (JSON Lines, gzip-compressed when the name ends in `.gz`):

- Line 1: `{"kind": "header", ...}` with the `Header` fields.  `schema` says
  which format follows; a reader refuses a schema newer than its own.
- Every other line: `{"kind": "frame", "at": ..., "snapshot": ..., "events":
  [...], "histograms": ...}`, one per reading, in time order.  A histogram
  is written only when it changed since the previous frame: a frame's
  `histograms` holds just the entries (per registration id, per baseline
  key) that are new or different, and is absent when none is.  The reader
  merges them into what it knows, so every `Frame` it returns has the latest
  histogram of every key seen so far.

Every dataclass is written as an object of its fields (see `codec`), so a
frame is the engine's `Snapshot` exactly as the app received it.

An attached VM's recording (`iofdtui attach PID`, `R`) has schema 2, a header
whose `attach` says what was traced (and no `machine`: no lab was made), and
`{"kind": "attach", ...}` frames, each an `AttachSnapshot` (attach_frames.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iofdtui.engine.attach.snapshot import TraceSetup
from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import MachineFacts, Snapshot

SCHEMA = 1
"""The format of a lab's recording (what this code writes for one, and reads)."""

ATTACH_SCHEMA = 2
"""The format of an attached VM's recording: an iofdtui that reads only schema 1
says to upgrade, rather than call the attach frames damaged."""

NEWEST_SCHEMA = ATTACH_SCHEMA
"""The newest format this code reads."""

SOURCES: tuple[str, ...] = ("app", "headless", "demo", "attach")
"""Who made a recording: the app (`--record`, `R`), `iofdtui record`, the shipped
demo, or the attached VM's app (`iofdtui attach PID`, `R`)."""

SEVERITIES: tuple[str, ...] = ("information", "warning", "error")
"""An event's severity, as Textual's `notify` takes it."""

Histogram = tuple[tuple[float, int], ...]
"""(bucket value in ns, count) pairs, as the lab's histogram calls return them."""


@dataclass(frozen=True)
class Header:
    """The first line: what made the recording, where and when.

    Attributes:
        schema: the file format (SCHEMA when written by this code).
        iofdtui_version: the version that wrote it.
        created: when recording began, ISO 8601 UTC.
        machine: the machine the numbers are about (None: an attached VM's, see `attach`).
        source: "app", "headless", "demo" or "attach" (SOURCES).
        note: free text, e.g. where and how the demo recording was made.
        shape: the digest of the frames' fields when written (`codec.shape(Frame)`):
            a file whose frames do not decode and whose shape differs from this
            version's was made by an iofdtui with other snapshot fields.
        attach: an attached VM's recording: what was traced (None: a lab's).
    """

    schema: int
    iofdtui_version: str
    created: str
    machine: MachineFacts | None
    source: str
    note: str | None = None
    shape: str | None = None
    attach: TraceSetup | None = None


@dataclass(frozen=True)
class Event:
    """One event-log line.

    Attributes:
        at: seconds since the recording began.
        text: the line as the event log shows it.
        severity: "information", "warning" or "error" (SEVERITIES).
    """

    at: float
    text: str
    severity: str = "information"


@dataclass(frozen=True)
class Histograms:
    """What the detail pane draws, as the lab's histogram calls return it.

    Attributes:
        registrations: per registration id, its ring cost (paced: the kick).
        wakes: per registration id, its wake-up latency (paced mode).
        baselines: per (bus, width), the userspace exit's ring cost.
        readers: per registration id, its stream ring cost under each reader.
    """

    registrations: Mapping[int, Histogram] = field(default_factory=dict)
    wakes: Mapping[int, Histogram] = field(default_factory=dict)
    baselines: Mapping[tuple[Bus, int], Histogram] = field(default_factory=dict)
    readers: Mapping[int, Mapping[str, Histogram]] = field(default_factory=dict)

    def merged(self, newer: Histograms) -> Histograms:
        """These histograms with every key `newer` has replaced by its value."""
        return Histograms(
            registrations={**self.registrations, **newer.registrations},
            wakes={**self.wakes, **newer.wakes},
            baselines={**self.baselines, **newer.baselines},
            readers={**self.readers, **newer.readers},
        )


@dataclass(frozen=True)
class Frame:
    """One reading.

    Attributes:
        at: seconds since the recording began.
        snapshot: the lab as the reading saw it.
        histograms: the latest histogram of every key known at this frame.
        events: event-log lines logged since the previous frame.
    """

    at: float
    snapshot: Snapshot
    histograms: Histograms = field(default_factory=Histograms)
    events: tuple[Event, ...] = ()
