"""An attached VM's recording: its header, its frames, and what a frame must make sense as.

`iofdtui attach PID` records with `R`: a header (schema 2, source "attach",
`attach`: the `TraceSetup`, what was traced) then one line per reading,
`{"kind": "attach", "at": ..., "snapshot": ..., "events": [...]}`, the
`AttachSnapshot` exactly as the app showed it.  There are no histograms: the
tracepoints carry no ring cost.

A recording is untrusted: `codec.decode` checks every value's type, and
`check_snapshot` that the counts make sense (none negative, each doorbell's
per-value and per-thread rows adding up to it, addresses on their bus,
widths KVM can have, vectors below 256), so replay and export never show a
count the tracer could not have made.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

from iofdtui.engine.attach.snapshot import AttachSnapshot, TracedDoorbell, TraceSetup
from iofdtui.engine.model import Bus
from iofdtui.recording.codec import shape
from iofdtui.recording.frames import ATTACH_SCHEMA, Event, Header

PID_MAX = 1 << 22
"""Linux's PID_MAX_LIMIT: no process or thread id is above it."""
WIDTHS = frozenset({0, 1, 2, 4, 8})
"""Write widths the tracepoints report (0: VMX's fast MMIO path, width unknown)."""
MAX_COMM = 64
"""Longest command name accepted (the kernel's is 15 characters; a little slack)."""
U64 = 1 << 64
BUS_END = {Bus.PIO: 1 << 16, Bus.MMIO: U64}
"""One past the highest address of each bus."""


@dataclass(frozen=True)
class AttachFrame:
    """One reading of an attached VM.

    Attributes:
        at: seconds since the recording began.
        snapshot: the counts as the app showed them.
        events: what the app logged since the previous frame (a reset, tracing ending).
    """

    at: float
    snapshot: AttachSnapshot
    events: tuple[Event, ...] = ()


def attach_header(setup: TraceSetup, version: str, note: str | None = None) -> Header:
    """The header of an attached VM's recording that starts now."""
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Header(ATTACH_SCHEMA, version, created, None, "attach", note, shape(AttachFrame), setup)


class Nonsense(ValueError):
    """A recorded count the tracer could not have made; the message names it."""


def check_header(header: Header) -> None:
    """Refuse a header that mixes the two kinds, or whose TraceSetup makes no sense.

    A lab's header has its machine and no `attach`; an attached VM's, source
    "attach", schema 2 or later and a TraceSetup (Nonsense: which field, why).
    """
    setup = header.attach
    if (setup is not None) != (header.source == "attach") or (setup is None) == (
        header.machine is None
    ):
        what = "a lab's" if setup is None else "an attached VM's"
        raise Nonsense(f"the header mixes {what} recording with the other kind")
    if setup is None:
        return
    if header.schema < ATTACH_SCHEMA:
        raise Nonsense(f"header.schema: {header.schema} for an attached VM's (needs 2 or later)")
    _pid(setup.pid, "header.attach.pid")
    _comm(setup.comm, "header.attach.comm")
    _count(setup.buffer_kb, "header.attach.buffer_kb")
    if not setup.events:
        raise Nonsense("header.attach.events: no tracepoint named")


def check_snapshot(snap: AttachSnapshot, setup: TraceSetup) -> None:
    """Refuse counts the tracer could not have made (Nonsense: which, and why).

    Every count is non-negative; a doorbell's writes = its per-value writes =
    its per-thread writes, likewise its exits; exits + undecided ≤ writes; an
    address fits its bus, a width is one KVM reports and a value fits it; each
    doorbell, value, thread, vector and GSI appears once; the process is the
    header's.
    """
    if snap.pid != setup.pid:
        raise Nonsense(f"snapshot.pid: {snap.pid} is not the header's process ({setup.pid})")
    _comm(snap.comm, "snapshot.comm")
    _seconds(snap.elapsed_s, "snapshot.elapsed_s")
    _unique((_pid(t, "snapshot.threads") for t in snap.threads), "snapshot.threads")
    _count(snap.read_exits, "snapshot.read_exits")
    _count(snap.unmatched_exits, "snapshot.unmatched_exits")
    seen: set[tuple[Bus, int]] = set()
    for i, door in enumerate(snap.doorbells):
        where = f"snapshot.doorbells[{i}]"
        _doorbell(door, where)
        if (door.bus, door.addr) in seen:
            raise Nonsense(f"{where}: {door.bus} {door.addr:#x} appears twice")
        seen.add((door.bus, door.addr))
    c = snap.cost
    _count(c.events, "snapshot.cost.events")
    _count(c.lost, "snapshot.cost.lost")
    _count(c.buffer_kb, "snapshot.cost.buffer_kb")
    _seconds(c.cpu_s, "snapshot.cost.cpu_s")
    if c.events_per_s is not None:
        _seconds(c.events_per_s, "snapshot.cost.events_per_s")
    irq = snap.interrupts
    for v in irq.vectors:
        if not 0 <= v.vector < 256:
            raise Nonsense(f"snapshot.interrupts: vector {v.vector} is not 0-255")
        for name in ("msi", "accepted", "eoi"):
            _count(getattr(v, name), f"snapshot.interrupts vector {v.vector}: {name}")
    _unique((v.vector for v in irq.vectors), "snapshot.interrupts.vectors")
    for g in irq.gsis:
        if not 0 <= g.gsi < 1 << 32:
            raise Nonsense(f"snapshot.interrupts: GSI {g.gsi} is not a u32")
        _count(g.raised, f"snapshot.interrupts GSI {g.gsi}: raised")
        _count(g.lowered, f"snapshot.interrupts GSI {g.gsi}: lowered")
    _unique((g.gsi for g in irq.gsis), "snapshot.interrupts.gsis")
    for r in snap.exit_latency.reasons:
        where = f"snapshot.exit_latency {r.name[:40]!r}"
        for name in ("reason", "count", "min_ns", "max_ns"):
            _count(getattr(r, name), f"{where}: {name}")
        _seconds(r.mean_ns, f"{where}: mean_ns")
        if r.count and not r.min_ns <= r.mean_ns <= r.max_ns:
            raise Nonsense(f"{where}: mean {r.mean_ns} is outside min..max")


def _doorbell(door: TracedDoorbell, where: str) -> None:
    if not 0 <= door.addr < BUS_END[door.bus]:
        raise Nonsense(f"{where}.addr: {door.addr} is not a {door.bus} address")
    for name in ("writes", "exits", "undecided"):
        _count(getattr(door, name), f"{where}.{name}")
    if door.exits + door.undecided > door.writes:
        raise Nonsense(f"{where}: exits + undecided ({door.exits + door.undecided:,}) > writes")
    for j, v in enumerate(door.by_value):
        at = f"{where}.by_value[{j}]"
        if v.width not in WIDTHS:
            raise Nonsense(f"{at}.width: {v.width} is not 0, 1, 2, 4 or 8")
        if v.value is not None and not 0 <= v.value < (1 << 8 * v.width if v.width else U64):
            raise Nonsense(f"{at}.value: {v.value} does not fit {v.width} bytes")
        for name in ("writes", "exits", "undecided"):
            _count(getattr(v, name), f"{at}.{name}")
        if v.exits + v.undecided > v.writes:
            raise Nonsense(f"{at}: exits + undecided > writes")
    _unique(((v.width, v.value) for v in door.by_value), f"{where}.by_value")
    for j, t in enumerate(door.by_thread):
        _pid(t.tid, f"{where}.by_thread[{j}].tid")
        _count(t.writes, f"{where}.by_thread[{j}].writes")
        _count(t.exits, f"{where}.by_thread[{j}].exits")
    _unique((t.tid for t in door.by_thread), f"{where}.by_thread")
    sums = {
        "by_value writes": (sum(v.writes for v in door.by_value), door.writes),
        "by_value exits": (sum(v.exits for v in door.by_value), door.exits),
        "by_value undecided": (sum(v.undecided for v in door.by_value), door.undecided),
        "by_thread writes": (sum(t.writes for t in door.by_thread), door.writes),
        "by_thread exits": (sum(t.exits for t in door.by_thread), door.exits),
    }
    for name, (total, whole) in sums.items():
        if total != whole:
            raise Nonsense(f"{where}: the {name} add up to {total:,}, not {whole:,}")


def _count(value: int, where: str) -> int:
    if value < 0:
        raise Nonsense(f"{where}: {value} is negative")
    return value


def _pid(value: int, where: str) -> int:
    if not 0 < value <= PID_MAX:
        raise Nonsense(f"{where}: {value} is not a process id (1-{PID_MAX})")
    return value


def _comm(value: str, where: str) -> None:
    if len(value) > MAX_COMM or not value.isprintable():
        raise Nonsense(f"{where}: not a command name")


def _seconds(value: float, where: str) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise Nonsense(f"{where}: {value!r} is not a finite, non-negative number")


def _unique(values: Iterable[object], where: str) -> None:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise Nonsense(f"{where}: {v!r} appears twice")
        seen.add(v)
