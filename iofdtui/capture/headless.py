"""`iofdtui record`: the demo (or another ring plan) recorded with no terminal.

The lab starts as the app opens it (the demo's registrations and plan, the
reader in epoll mode), is read every `reading_s` seconds and paused for an
exact checkpoint every `checkpoint_s` seconds and at the end, so a replay
shows exact ✓ marks; each reading is one frame with the histograms of the
registrations that rang (see `capture.histograms`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from iofdtui.capture.histograms import read_histograms, rung
from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.model import SlotSpec, SpecError
from iofdtui.engine.snapshot import Checkpoint, MachineFacts
from iofdtui.recording.frames import Event
from iofdtui.recording.writer import Recorder, new_header
from iofdtui.reports.vm_up import vm_up_lines

READING_S = 0.5
"""Seconds between readings (frames)."""
CHECKPOINT_S = 2.0
"""Seconds between exact checkpoints (brief pauses)."""


@dataclass(frozen=True)
class Recorded:
    """What `record_headless` wrote."""

    path: str
    frames: int
    seconds: float
    checkpoints: int
    exact: int  # checkpoints where every doorbell balanced, parked by handshake

    def summary(self) -> str:
        """One line, as `iofdtui record` prints it."""
        verdict = "all exact" if self.exact == self.checkpoints else f"{self.exact} exact"
        plural = "" if self.checkpoints == 1 else "s"
        return (
            f"recorded {self.frames} frames over {self.seconds:.1f} s to {self.path} "
            f"({self.checkpoints} checkpoint{plural}, {verdict})"
        )


def parse_plan(text: str) -> list[SlotSpec]:
    """A ring plan from `BUS:ADDR:WIDTH:VALUE[:WEIGHT]` writes separated by commas.

    E.g. `pio:0x3f8:1:0x42,mmio:0xfe000000:4:0x2:8`; numbers in any base
    Python reads (0x.., 0o.., decimal).

    Raises:
        ValueError: one line naming the write and what is wrong with it.
    """
    slots = []
    for n, item in enumerate(text.split(","), 1):
        parts = item.strip().split(":")
        if len(parts) not in (4, 5):
            raise ValueError(f"write {n} {item.strip()!r}: expected BUS:ADDR:WIDTH:VALUE[:WEIGHT]")
        try:
            numbers = [int(p, 0) for p in parts[1:]]
        except ValueError:
            what = "ADDR, WIDTH, VALUE, WEIGHT are numbers"
            raise ValueError(f"write {n} {item.strip()!r}: {what}") from None
        try:
            slot = SlotSpec(parts[0], *numbers)  # type: ignore[arg-type]
            slot.validate()
        except SpecError as err:
            raise ValueError(f"write {n} {item.strip()!r}: {err}") from None
        slots.append(slot)
    return slots


def checkpoint_events(checkpoint: Checkpoint, at: float) -> list[Event]:
    """An error event when a checkpoint does not hold (nothing when it does)."""
    if checkpoint.holds:
        return []
    broken = [d for d in checkpoint.doorbells if d.balance != 0]
    if broken:
        d = broken[0]
        text = (
            f"checkpoint #{checkpoint.number}: {d.bus.value} {d.addr:#x} rings {d.rings:,} ≠ "
            f"signals {d.signals:,} + exits {d.exits:,}"
        )
    elif not checkpoint.exact:
        text = f"checkpoint #{checkpoint.number}: not parked by handshake"
    else:
        text = f"checkpoint #{checkpoint.number}: a ring went to an unpredicted path"
    return [Event(at, text, "error")]


def start_events(machine: MachineFacts, registrations: dict[int, str]) -> list[Event]:
    """What the app's event log says when its VM comes up."""
    return [Event(0.0, text, severity) for text, severity in vm_up_lines(machine, registrations)]


def record_headless(
    path: str | os.PathLike[str],
    seconds: float,
    *,
    vcpus: int = 1,
    plan: Sequence[SlotSpec] | None = None,
    reading_s: float = READING_S,
    checkpoint_s: float = CHECKPOINT_S,
    source: str = "headless",
    note: str | None = None,
    progress: Callable[[float], None] | None = None,
) -> Recorded:
    """Run the demo for `seconds` and record it to `path` (blocking).

    Raises:
        KvmUnavailable: no usable /dev/kvm (one line, an OSError).
        RecordWriteError: the file cannot be written (one line).
        EngineError, SpecError: the lab refused the plan or a registration.
    """
    from iofdtui.engine.lab import open_lab  # the native engine, only when recording

    with open_lab(vcpus) as lab:
        slots = list(plan) if plan is not None else demo_plan()
        if vcpus > 1:
            lab.set_plans([slots] * vcpus)
        else:
            lab.set_plan(slots)
        for spec in demo_registrations():
            lab.add_registration(spec)
        described = {i: spec.describe() for i, spec in lab.registrations().items()}
        with Recorder(path, new_header(lab.machine, source, note)) as recorder:
            events = start_events(lab.machine, described)
            lab.start()
            began = time.monotonic()
            previous = None
            checkpoints = exact = 0
            next_checkpoint = began + checkpoint_s
            tick = 1
            while True:
                due = min(began + tick * reading_s, began + seconds)
                time.sleep(max(0.0, due - time.monotonic()))
                now = time.monotonic()
                last = now - began >= seconds
                if last or now >= next_checkpoint:
                    taken = lab.checkpoint()
                    checkpoints += 1
                    exact += taken.holds
                    events += checkpoint_events(taken, now - began)
                    next_checkpoint = now + checkpoint_s
                snapshot = lab.snapshot()
                histograms = read_histograms(lab, snapshot, rung(snapshot, previous))
                recorder.frame(now - began, snapshot, histograms, events)
                events, previous = [], snapshot
                if progress is not None:
                    progress(now - began)
                if last:
                    break
                tick += 1
            return Recorded(os.fspath(path), recorder.frames, now - began, checkpoints, exact)
