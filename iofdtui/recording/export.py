"""A recording as tables: one row per registration and per doorbell at every frame.

CSV is one file with a `table` column ("registration" or "doorbell"); a
column that does not apply to a row's table is empty.  JSON is one document:
`{"recording": {header}, "registrations": [...], "doorbells": [...]}`, each
row an object of its table's columns (null: no figure).  The columns, in
order, are `COLUMNS` below; `column_help()` says what each holds.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from iofdtui.engine.model import format_addr
from iofdtui.engine.snapshot import DoorbellStats, RegistrationStats, Snapshot
from iofdtui.recording.codec import encode
from iofdtui.recording.reader import Recording

Row = dict[str, Any]

COMMON: tuple[tuple[str, str], ...] = (
    ("table", "registration or doorbell"),
    ("time_s", "seconds since the recording began"),
    ("state", "the guest: running, paused, idle or faulted"),
    ("reader", "eventfd reader in force: none, poll or epoll"),
    ("pace_us", "µs between paced rings (empty: flat out)"),
    ("checkpoint", "number of the last checkpoint (a brief pause; empty: none yet)"),
    ("bus", "pio or mmio"),
    ("addr", "the doorbell's port or guest-physical address, hex"),
)
REGISTRATION: tuple[tuple[str, str], ...] = (
    ("id", "registration id"),
    ("width", "registration length in bytes (0: any length)"),
    ("trigger", "DATAMATCH value, hex (empty: any value)"),
    ("signals", "eventfd signals since the last reset"),
    ("signals_per_s", "signals per second over the last reading's interval"),
    ("rings", "guest rings attributed to it (equals signals)"),
    ("exits", "userspace exits at its doorbell (writes it did not match)"),
    ("samples", "timed visits behind the ring cost"),
    ("p50_ns", "guest-measured ring cost, median over visits, net of timer overhead"),
    ("p99_ns", "ring cost, 99th percentile over visits"),
    ("mean_ns", "ring cost, mean"),
    ("base_p50_ns", "the userspace exit's p50 of the same bus and width, same run and reader"),
    ("base_p99_ns", "the userspace exit's p99"),
    ("ratio", "base_p50_ns / p50_ns, like for like (kick against kick when paced)"),
)
DOORBELL: tuple[tuple[str, str], ...] = (
    ("rings", "guest rings at the doorbell"),
    ("signals", "eventfd signals of the registrations there"),
    ("exits", "userspace exits there"),
    ("issued", "rings the guest announced (rings ≤ signals + exits ≤ issued while running)"),
    ("live_ok", "the live check holds at this reading"),
    ("exact", "rings = signals + exits at the last checkpoint, parked by handshake"),
)

COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(name for name, _ in COMMON + REGISTRATION + DOORBELL)
)
"""Every CSV column, in order (registration and doorbell columns share names)."""


def column_help() -> str:
    """What each column holds, one per line (for --help and the README)."""
    seen: dict[str, str] = {}
    for name, text in COMMON:
        seen[name] = text
    lines = ["every row:"]
    lines += [f"  {name:<14} {text}" for name, text in seen.items()]
    lines.append("registration rows:")
    lines += [f"  {name:<14} {text}" for name, text in REGISTRATION]
    lines.append("doorbell rows:")
    lines += [f"  {name:<14} {text}" for name, text in DOORBELL]
    return "\n".join(lines)


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def _common(table: str, at: float, snap: Snapshot) -> Row:
    checkpoint = snap.checkpoint
    return {
        "table": table,
        "time_s": at,
        "state": snap.state,
        "reader": snap.consumer,
        "pace_us": snap.pace_us,
        "checkpoint": None if checkpoint is None else checkpoint.number,
    }


def registration_row(at: float, snap: Snapshot, reg: RegistrationStats) -> Row:
    """One registration at one frame."""
    spec = reg.spec
    exits = sum(d.exits for d in snap.doorbells if (d.bus, d.addr) == spec.doorbell)
    base = snap.baseline_for(reg)
    return {
        **_common("registration", at, snap),
        "bus": spec.bus.value,
        "addr": format_addr(spec.bus, spec.addr),
        "id": reg.id,
        "width": spec.width,
        "trigger": _hex(spec.trigger),
        "signals": reg.signals,
        "signals_per_s": reg.signals_per_s,
        "rings": reg.rings,
        "exits": exits,
        "samples": reg.latency.samples,
        "p50_ns": reg.latency.p50_ns,
        "p99_ns": reg.latency.p99_ns,
        "mean_ns": reg.latency.mean_ns,
        "base_p50_ns": base.p50_ns,
        "base_p99_ns": base.p99_ns,
        "ratio": reg.ratio,
    }


def doorbell_row(at: float, snap: Snapshot, door: DoorbellStats) -> Row:
    """One doorbell at one frame."""
    checkpoint = snap.checkpoint
    exact = None
    if checkpoint is not None:
        at_pause = next(
            (d for d in checkpoint.doorbells if (d.bus, d.addr) == (door.bus, door.addr)), None
        )
        exact = at_pause is not None and checkpoint.exact and at_pause.balance == 0
    return {
        **_common("doorbell", at, snap),
        "bus": door.bus.value,
        "addr": format_addr(door.bus, door.addr),
        "rings": door.rings,
        "signals": door.signals,
        "exits": door.exits,
        "issued": door.issued,
        "live_ok": door.live_ok,
        "exact": exact,
    }


def rows(recording: Recording) -> Iterator[Row]:
    """Every row, frame by frame: its registrations, then its doorbells."""
    for frame in recording.frames:
        snap = frame.snapshot
        for reg in snap.registrations:
            yield registration_row(frame.at, snap, reg)
        for door in snap.doorbells:
            yield doorbell_row(frame.at, snap, door)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # exact, as the recording holds it
    return value


def write_table_csv(table: Iterable[dict[str, object]], columns: Sequence[str], out: TextIO) -> int:
    """Write `table` under `columns` as CSV to `out`; returns the rows written."""
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in table:
        writer.writerow({k: _cell(v) for k, v in row.items()})
        count += 1
    return count


def write_csv(recording: Recording, out: TextIO) -> int:
    """Write the CSV table to `out`; returns the rows written."""
    return write_table_csv(rows(recording), COLUMNS, out)


def write_json_head(recording: Recording, out: TextIO) -> None:
    """Open the JSON document: the recording's header and notes (its tables follow)."""
    out.write('{\n "recording": ')
    json.dump(encode(recording.header), out, allow_nan=False, ensure_ascii=False)
    out.write(',\n "notes": ')
    json.dump(recording.notes, out, ensure_ascii=False)


def write_json(recording: Recording, out: TextIO) -> int:
    """Write the JSON document to `out`, a row at a time; returns the rows written."""
    write_json_head(recording, out)
    count = 0
    for key, table in (("registrations", "registration"), ("doorbells", "doorbell")):
        out.write(f',\n "{key}": [')
        first = True
        for row in rows(recording):
            if row.pop("table") != table:
                continue
            # JSON has no NaN or infinity (never from the engine): null, "no figure".
            clean = {
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in row.items()
            }
            out.write("\n  " if first else ",\n  ")
            json.dump(clean, out, allow_nan=False, ensure_ascii=False)
            first = False
            count += 1
        out.write("\n ]")
    out.write("\n}\n")
    return count


def csv_text(recording: Recording) -> str:
    """The CSV table as a string (tests, small recordings)."""
    buffer = io.StringIO()
    write_csv(recording, buffer)
    return buffer.getvalue()
