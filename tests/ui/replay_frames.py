"""Recordings to replay in tests: the fake lab's snapshot, its counts growing frame by frame.

Frame i is 0.25 s after frame i-1; its registrations and doorbells count
`STEP * (i + 1)` signals and rings, so a test can tell which frame is shown
from the tables.  Events sit on a few frames (EVENT_FRAMES).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from iofdtui.recording.frames import Event, Frame, Header, Histograms
from iofdtui.recording.writer import Recorder
from tests.ui.fake_lab import (
    IOEVENTFD_HIST,
    MACHINE,
    READER_HIST,
    SNAPSHOT,
    USERSPACE_HIST,
)

STEP = 1_000
"""Signals (and rings) each registration gains per frame."""
FRAME_S = 0.25
"""Seconds between frames."""
EVENT_FRAMES = {0: "replay test started", 12: "registered #3 pio 0x0600/1", 40: "paused"}
"""Frames that carry an event, with its text."""

HEADER = Header(
    schema=1,
    iofdtui_version="0.1.0",
    created="2026-01-01T12:00:00+00:00",
    machine=MACHINE,
    source="headless",
    note="made by the test suite from the fake lab's figures",
)


def signals_at(index: int) -> int:
    """What frame `index` counts for each registration."""
    return STEP * (index + 1)


def frame(index: int) -> Frame:
    """Frame `index`: the fake snapshot with its counts, and its event if it has one."""
    count = signals_at(index)
    regs = tuple(dataclasses.replace(r, signals=count, rings=count) for r in SNAPSHOT.registrations)
    doors = tuple(
        dataclasses.replace(d, rings=d.signals and count, signals=d.signals and count)
        if d.exits == 0
        else d
        for d in SNAPSHOT.doorbells
    )
    snap = dataclasses.replace(
        SNAPSHOT,
        taken_at=100.0 + index * FRAME_S,
        registrations=regs,
        doorbells=doors,
        total_rings=count * 3,
    )
    hist = Histograms(
        registrations={1: tuple(IOEVENTFD_HIST)},
        baselines={(r.spec.bus, r.baseline_width): tuple(USERSPACE_HIST) for r in regs},
        readers={r.id: {"epoll": tuple(READER_HIST["epoll"])} for r in regs},
    )
    events = ()
    if index in EVENT_FRAMES:
        events = (Event(index * FRAME_S, EVENT_FRAMES[index], "information"),)
    return Frame(index * FRAME_S, snap, hist, events)


def frames(count: int = 60) -> list[Frame]:
    """The first `count` frames (60: 15 s)."""
    return [frame(i) for i in range(count)]


def write_recording(path: Path, count: int = 60) -> Path:
    """A recording file of `count` frames, written as the recorder writes them."""
    with Recorder(path, HEADER) as rec:
        for f in frames(count):
            rec.frame(f.at, f.snapshot, f.histograms, f.events)
    return path
