"""Decoding the ring buffer's raw pages (`trace_pipe_raw`) into access events.

A page is a timestamp, a commit word (bytes of data, and flags for events
lost before it) and a run of records, each a 4-byte header (type_len:5,
time_delta:27) then its payload (see the kernel's `events/header_event`).
Field offsets come from each event's `format` file, never from here.

Each event becomes a tuple `(ts, tid, op, what)`: a WRITE's `what` is its
key `(bus, addr, width, value)`, an EXIT's the bus of its kind (KVM_EXIT_IO:
pio, KVM_EXIT_MMIO: mmio), a READ's None.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from iofdtui.engine.attach.tracefs import EventFormat, PageLayout
from iofdtui.engine.model import Bus

WRITE, READ, EXIT = 0, 1, 2
PIO, MMIO = Bus.PIO, Bus.MMIO
KVM_EXIT_IO, KVM_EXIT_MMIO = 2, 6
MMIO_WRITE = 2  # kvm_mmio's type: 0 unsatisfied-read, 1 read, 2 write

TYPE_PADDING, TYPE_TIME_EXTEND, TYPE_TIME_STAMP = 29, 30, 31
MISSED_FLAGS = 3 << 30  # RB_MISSED_EVENTS | RB_MISSED_STORED in the commit word
TS_SHIFT = 27
TS_MSB = ~((1 << 59) - 1)  # an absolute timestamp keeps 59 bits; the page gives the rest

Event = tuple[int, int, int, Any]
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_EXIT_BUS = {KVM_EXIT_IO: PIO, KVM_EXIT_MMIO: MMIO}

_CODES = {(1, False): "B", (2, False): "H", (4, False): "I", (8, False): "Q"}
_CODES |= {(1, True): "b", (2, True): "h", (4, True): "i", (8, True): "q"}


def _reader(fmt: EventFormat, names: tuple[str, ...]) -> Callable[[bytes, int], tuple[int, ...]]:
    """unpack_from for `names` (in that order) of `fmt`'s payload."""
    wanted = [(fmt.fields[n], i) for i, n in enumerate(names)]
    order = sorted(wanted, key=lambda fi: fi[0].offset)
    layout, at = "<", 0
    for f, _ in order:
        if f.offset < at or (f.size, f.signed) not in _CODES:
            raise ValueError(f"{fmt.name}: field layout iofdtui cannot read")
        layout += f"{f.offset - at}x" if f.offset > at else ""
        layout += _CODES[(f.size, f.signed)]
        at = f.offset + f.size
    unpack = struct.Struct(layout).unpack_from
    back = [i for _, i in order]
    if back == sorted(back):
        return unpack  # already in the order asked for
    pos = [back.index(i) for i in range(len(names))]
    return lambda buf, off: tuple(unpack(buf, off)[p] for p in pos)  # type: ignore[misc]


_PIO, _MMIO, _FAST, _EXIT = range(4)


class PageDecoder:
    """Turns raw pages into access events, for the event formats it was given."""

    def __init__(self, formats: dict[str, EventFormat], layout: PageLayout) -> None:
        self.layout = layout
        self._commit = struct.Struct("<Q" if layout.commit_size == 8 else "<I").unpack_from
        # Event id -> (which event, unpack_from of the fields read, in the order listed).
        self._ids: dict[int, tuple[int, Callable[[bytes, int], tuple[int, ...]]]] = {}
        wanted = (
            ("kvm_pio", _PIO, ("common_pid", "rw", "port", "size", "val")),
            ("kvm_mmio", _MMIO, ("common_pid", "type", "len", "gpa", "val")),
            ("kvm_fast_mmio", _FAST, ("common_pid", "gpa")),
            ("kvm_userspace_exit", _EXIT, ("common_pid", "reason", "errno")),
        )
        for name, which, fields in wanted:
            fmt = formats.get(name)
            if fmt is not None:
                self._ids[fmt.id] = (which, _reader(fmt, fields))

    def decode(self, page: bytes, out: list[Event]) -> bool:
        """Append `page`'s events to `out`; True when the kernel lost events before it.

        One loop with every event inlined: it runs once per traced access, so
        a function call less per event is a tenth of its cost.
        """
        lay = self.layout
        if len(page) < lay.data_offset:
            return False
        u32 = _U32
        ts = _U64(page, 0)[0]
        commit = self._commit(page, lay.commit_offset)[0]
        missed = bool(commit & MISSED_FLAGS)
        end = min(lay.data_offset + (commit & ((1 << 30) - 1)), len(page))
        off = lay.data_offset
        ids = self._ids
        append = out.append
        while off + 4 <= end:
            head = u32(page, off)[0]
            type_len = head & 31
            if type_len == 0:
                if off + 8 > end:
                    break
                ts += head >> 5
                data, nxt = off + 8, off + 4 + u32(page, off + 4)[0]
            elif type_len <= 28:
                ts += head >> 5
                data, nxt = off + 4, off + 4 + 4 * type_len
            elif type_len == TYPE_PADDING:
                if head >> 5 == 0 or off + 8 > end:
                    break  # the rest of the page is empty
                ts += head >> 5
                off += 4 + u32(page, off + 4)[0]
                continue
            else:
                if off + 8 > end:
                    break
                high = u32(page, off + 4)[0]
                if type_len == TYPE_TIME_EXTEND:
                    ts += (high << TS_SHIFT) + (head >> 5)
                else:
                    ts = (ts & TS_MSB) | (high << TS_SHIFT) | (head >> 5)
                off += 8
                continue
            if nxt > end or nxt <= off:
                break  # a damaged record: stop at what is whole
            off = nxt
            kind = ids.get(page[data] | page[data + 1] << 8) if data + 2 <= nxt else None
            if kind is None:
                continue
            try:
                f = kind[1](page, data)
            except struct.error:
                continue  # shorter than its format says: not a record we read
            which = kind[0]
            if which == _PIO:
                if f[1]:
                    append((ts, f[0], WRITE, (PIO, f[2], f[3], f[4])))
                else:
                    append((ts, f[0], READ, None))
            elif which == _MMIO:
                if f[1] == MMIO_WRITE:
                    append((ts, f[0], WRITE, (MMIO, f[3], f[2], f[4])))
                else:
                    append((ts, f[0], READ, None))
            elif which == _FAST:
                # VMX's fast path: a length-0 MMIO ioeventfd, served before any decode.
                append((ts, f[0], WRITE, (MMIO, f[1], 0, None)))
            elif f[2] == 0 and f[1] in _EXIT_BUS:
                append((ts, f[0], EXIT, _EXIT_BUS[f[1]]))
            # Other exits (a signal, a halt...) complete no access in userspace.
        return missed
