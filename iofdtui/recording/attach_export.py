"""An attached VM's recording as tables: one row per doorbell at every frame.

CSV is one file, the columns below in order; JSON is one document
`{"recording": {header}, "notes": [...], "doorbells": [...]}`, each row an
object of the same columns (null: no figure).  `writes_per_s` is against the
frame before, as the live view showed it (none at the first frame, or after
a reset).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, TextIO

from iofdtui.engine.model import format_addr
from iofdtui.recording.export import write_json_head, write_table_csv
from iofdtui.recording.reader import Recording

Row = dict[str, Any]

ATTACH_DOORBELL: tuple[tuple[str, str], ...] = (
    ("time_s", "seconds since the recording began"),
    ("elapsed_s", "seconds since tracing began (or the last reset)"),
    ("pid", "the process traced"),
    ("bus", "pio or mmio"),
    ("addr", "the doorbell's port or guest-physical address, hex"),
    ("writes", "writes traced (kvm_pio, kvm_mmio, kvm_fast_mmio)"),
    ("in_kernel", "writes served in the kernel (an ioeventfd): no userspace exit followed"),
    ("exits", "writes that exited to userspace (kvm_userspace_exit IO/MMIO after them)"),
    ("undecided", "a thread's last write, with nothing after it yet"),
    ("writes_per_s", "writes per second since the frame before (empty: first, or a reset)"),
    ("values", "distinct (width, value) pairs written there"),
    ("threads", "vCPU threads that wrote there"),
    ("lost", "events the kernel lost so far, whole trace (counts are short when not 0)"),
)
"""Every column, in order, with what it holds."""

COLUMNS = tuple(name for name, _ in ATTACH_DOORBELL)


def attach_column_help() -> str:
    """What each column holds, one per line (for --help and the README)."""
    lines = ["an attached VM's recording (iofdtui attach PID, R), one row per doorbell:"]
    return "\n".join(lines + [f"  {name:<14} {text}" for name, text in ATTACH_DOORBELL])


def rows(recording: Recording) -> Iterator[Row]:
    """Every doorbell at every frame, frame by frame."""
    previous = None
    for frame in recording.attach_frames:
        snap = frame.snapshot
        before: dict[tuple[object, int], int] = {}
        span = 0.0
        if previous is not None and snap.elapsed_s > previous.elapsed_s:
            span = snap.elapsed_s - previous.elapsed_s
            before = {(d.bus, d.addr): d.writes for d in previous.doorbells}
        for d in snap.doorbells:
            rate = None
            if span > 0:
                rate = (d.writes - before.get((d.bus, d.addr), 0)) / span
                rate = rate if math.isfinite(rate) else None  # an untrusted file's tiny span
            yield {
                "time_s": frame.at,
                "elapsed_s": snap.elapsed_s,
                "pid": snap.pid,
                "bus": d.bus.value,
                "addr": format_addr(d.bus, d.addr),
                "writes": d.writes,
                "in_kernel": d.in_kernel,
                "exits": d.exits,
                "undecided": d.undecided,
                "writes_per_s": rate,
                "values": len(d.by_value),
                "threads": len(d.by_thread),
                "lost": snap.cost.lost,
            }
        previous = snap


def write_attach_csv(recording: Recording, out: TextIO) -> int:
    """Write the CSV table to `out`; returns the rows written."""
    return write_table_csv(rows(recording), COLUMNS, out)


def write_attach_json(recording: Recording, out: TextIO) -> int:
    """Write the JSON document to `out`, a row at a time; returns the rows written."""
    write_json_head(recording, out)
    out.write(',\n "doorbells": [')
    count = 0
    for row in rows(recording):
        out.write("\n  " if count == 0 else ",\n  ")
        json.dump(row, out, allow_nan=False, ensure_ascii=False)
        count += 1
    out.write("\n ]\n}\n")
    return count
