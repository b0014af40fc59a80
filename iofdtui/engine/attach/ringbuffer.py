"""Decoding the ring buffer's raw pages (`trace_pipe_raw`) into access events.

A page is a timestamp, a commit word (bytes of data, and flags for events
lost before it) and a run of records, each a 4-byte header (type_len:5,
time_delta:27) then its payload (see the kernel's `events/header_event`).
Field offsets come from each event's `format` file, never from here.

Each event becomes a tuple `(ts, tid, op, bus, addr, width, value)`:
`op` is WRITE, READ or EXIT; for EXIT, `bus` says which kind (IO or MMIO).
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

Event = tuple[int, int, int, Any, int, int, int | None]

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


class PageDecoder:
    """Turns raw pages into access events, for the event formats it was given."""

    def __init__(self, formats: dict[str, EventFormat], layout: PageLayout) -> None:
        self.layout = layout
        self._commit = struct.Struct("<Q" if layout.commit_size == 8 else "<I").unpack_from
        self._ids: dict[int, Callable[[bytes, int, int], Event | None]] = {}
        pio = formats.get("kvm_pio")
        if pio is not None:
            r_pio = _reader(pio, ("common_pid", "rw", "port", "size", "val"))

            def on_pio(buf: bytes, off: int, ts: int) -> Event:
                tid, rw, port, size, val = r_pio(buf, off)
                return (ts, tid, WRITE if rw else READ, PIO, port, size, val)

            self._ids[pio.id] = on_pio
        mmio = formats.get("kvm_mmio")
        if mmio is not None:
            r_mmio = _reader(mmio, ("common_pid", "type", "len", "gpa", "val"))

            def on_mmio(buf: bytes, off: int, ts: int) -> Event:
                tid, kind, length, gpa, val = r_mmio(buf, off)
                return (ts, tid, WRITE if kind == MMIO_WRITE else READ, MMIO, gpa, length, val)

            self._ids[mmio.id] = on_mmio
        fast = formats.get("kvm_fast_mmio")
        if fast is not None:
            r_fast = _reader(fast, ("common_pid", "gpa"))

            def on_fast(buf: bytes, off: int, ts: int) -> Event:
                # VMX's fast path: a length-0 MMIO ioeventfd served before any decode.
                tid, gpa = r_fast(buf, off)
                return (ts, tid, WRITE, MMIO, gpa, 0, None)

            self._ids[fast.id] = on_fast
        ex = formats.get("kvm_userspace_exit")
        if ex is not None:
            r_exit = _reader(ex, ("common_pid", "reason", "errno"))

            def on_exit(buf: bytes, off: int, ts: int) -> Event | None:
                tid, reason, err = r_exit(buf, off)
                if err < 0 or reason not in (KVM_EXIT_IO, KVM_EXIT_MMIO):
                    return None  # a signal, a halt...: no access completes in userspace
                return (ts, tid, EXIT, PIO if reason == KVM_EXIT_IO else MMIO, 0, 0, None)

            self._ids[ex.id] = on_exit

    def decode(self, page: bytes, out: list[Event]) -> bool:
        """Append `page`'s events to `out`; True when the kernel lost events before it."""
        lay = self.layout
        if len(page) < lay.data_offset:
            return False
        ts = int.from_bytes(page[0:8], "little")
        commit = self._commit(page, lay.commit_offset)[0]
        missed = bool(commit & MISSED_FLAGS)
        end = lay.data_offset + (commit & ((1 << 30) - 1))
        end = min(end, len(page))
        off = lay.data_offset
        ids = self._ids
        u32 = int.from_bytes
        while off + 4 <= end:
            head = u32(page[off : off + 4], "little")
            type_len = head & 31
            delta = head >> 5
            if type_len == 0:
                if off + 8 > end:
                    break
                size = u32(page[off + 4 : off + 8], "little")
                ts += delta
                data, nxt = off + 8, off + 4 + size
            elif type_len <= 28:
                ts += delta
                data, nxt = off + 4, off + 4 + 4 * type_len
            elif type_len == TYPE_PADDING:
                if delta == 0 or off + 8 > end:
                    break  # the rest of the page is empty
                ts += delta
                off += 4 + u32(page[off + 4 : off + 8], "little")
                continue
            else:
                if off + 8 > end:
                    break
                high = u32(page[off + 4 : off + 8], "little")
                if type_len == TYPE_TIME_EXTEND:
                    ts += (high << TS_SHIFT) + delta
                else:
                    ts = (ts & TS_MSB) | (high << TS_SHIFT) | delta
                off += 8
                continue
            if nxt > end or nxt <= off:
                break  # a damaged record: stop at what is whole
            if data + 2 <= nxt:
                handler = ids.get(page[data] | page[data + 1] << 8)
                if handler is not None:
                    try:
                        event = handler(page, data, ts)
                    except struct.error:
                        event = None  # shorter than its format says: not a record we read
                    if event is not None:
                        out.append(event)
            off = nxt
        return missed
