"""Which path served each traced write, counted in C from the raw pages.

The rule, per vCPU thread, in time order: a write followed by a
`kvm_userspace_exit` of its bus's kind (KVM_EXIT_IO for PIO, KVM_EXIT_MMIO
for MMIO) before that thread's next access went to userspace (an *exit*);
a write followed by another access first was served in the kernel.  A
thread's last write stays *undecided* until its next event arrives.  KVM
emits the write's tracepoint (`kvm_pio`, `kvm_mmio`) whichever path serves
it, and `kvm_userspace_exit` on every return to userspace.

Decoding and classifying run once per traced access, hundreds of thousands
a second from a VM ringing flat out, so they are C (`native/tally.c`): the
pages go in, the counts per (thread, doorbell, width, value) come out.
"""

from __future__ import annotations

import errno as E
from dataclasses import dataclass

from iofdtui.engine.attach.exit_latency import ExitLatency
from iofdtui.engine.attach.interrupts import IRQ_KINDS, IrqCount
from iofdtui.engine.attach.native import ffi, lib
from iofdtui.engine.attach.tracefs import EventFormat, PageLayout
from iofdtui.engine.model import Bus

BUSES = (Bus.PIO, Bus.MMIO)

# (event, C prefix, fields in struct ev_layout order)
_EVENTS = (
    ("kvm_pio", "pio", ("common_pid", "rw", "port", "size", "val")),
    ("kvm_mmio", "mmio", ("common_pid", "type", "len", "gpa", "val")),
    ("kvm_fast_mmio", "fast", ("common_pid", "gpa")),
    ("kvm_userspace_exit", "exit", ("common_pid", "reason", "errno")),
    ("kvm_msi_set_irq", "msi", ("address", "data")),
    ("kvm_set_irq", "gsi", ("gsi", "level")),
    ("kvm_apic_accept_irq", "accept", ("apicid", "vec")),
    ("kvm_eoi", "eoi", ("vector",)),
    ("kvm_exit", "hwexit", ("common_pid", "exit_reason", "isa")),
    ("kvm_entry", "entry", ("common_pid",)),
)
_SHORT = {"common_pid": "pid", "exit_reason": "reason"}
_SIZES = {
    ("mmio", "val"): 8,
    ("mmio", "gpa"): 8,
    ("fast", "gpa"): 8,
    ("msi", "address"): 8,
    ("msi", "data"): 8,
    ("accept", "vec"): 1,
}
"""Fields the C reads as 8 or 1 bytes; every other as 4 (their sizes on x86-64): a
kernel with another layout is refused rather than misread."""


@dataclass(frozen=True, slots=True)
class Entry:
    """The counts of one (thread, doorbell, width, value)."""

    tid: int
    bus: Bus
    addr: int
    width: int
    value: int | None
    writes: int
    exits: int
    undecided: int


@dataclass(frozen=True, slots=True)
class Totals:
    """What the tally has seen (see struct tally_totals)."""

    events: int
    held: int
    read_exits: int
    unmatched_exits: int
    missed_pages: int
    damaged: int
    gsi_out_of_range: int = 0
    hw_exits: int = 0
    unpaired_entries: int = 0


def _ev_layout(formats: dict[str, EventFormat]) -> object:
    ev = ffi.new("struct ev_layout *")
    for name, prefix, fields in _EVENTS:
        fmt = formats.get(name)
        setattr(ev, f"{prefix}_id", fmt.id if fmt else -1)
        for field in fields:
            slot = f"{prefix}_{_SHORT.get(field, field)}"
            if fmt is None:
                setattr(ev, slot, 0)
                continue
            found = fmt.fields.get(field)
            want = _SIZES.get((prefix, field), 4)
            if found is None or found.size != want:
                raise ValueError(f"{name}.{field}: a layout iofdtui cannot read")
            setattr(ev, slot, found.offset)
    return ev


class NativeTally:
    """Pages in (`add_pages`), events classified up to a horizon, counts out."""

    def __init__(self, formats: dict[str, EventFormat], layout: PageLayout) -> None:
        rb = ffi.new("struct rb_layout *")
        rb.page_size = layout.size
        rb.commit_offset = layout.commit_offset
        rb.commit_size = layout.commit_size
        rb.data_offset = layout.data_offset
        handle = lib.tally_new(rb, _ev_layout(formats))
        if handle == ffi.NULL:
            raise MemoryError("cannot allocate the attach tally")
        self._t = ffi.gc(handle, lib.tally_free)
        self.page_size = layout.size

    def add_pages(self, pages: list[bytes]) -> None:
        """Decode these pages (each one sub-buffer, as trace_pipe_raw gives them)."""
        size = self.page_size
        blob = b"".join(p if len(p) == size else p[:size].ljust(size, b"\0") for p in pages)
        if lib.tally_add_pages(self._t, blob, len(blob)) < 0:
            raise MemoryError("out of memory decoding trace pages")

    def classify(self, horizon: int, final: bool = False) -> int:
        """Classify every decoded event up to `horizon` (ns, the trace clock); all if final."""
        n = lib.tally_classify(self._t, horizon, 1 if final else 0)
        if n == -E.ENOMEM:
            raise MemoryError("out of memory classifying trace events")
        return int(n)

    def totals(self) -> Totals:
        """Counts of events, and of what could not be tied to a write."""
        t = ffi.new("struct tally_totals *")
        lib.tally_totals(self._t, t)
        return Totals(
            t.events,
            t.held,
            t.read_exits,
            t.unmatched_exits,
            t.missed_pages,
            t.damaged,
            t.gsi_out_of_range,
            t.hw_exits,
            t.unpaired_entries,
        )

    def irqs(self) -> list[IrqCount]:
        """Interrupt counts, by kind then vector (GSI), nonzero only."""
        t = ffi.new("struct tally_totals *")
        lib.tally_totals(self._t, t)
        out = ffi.new("struct irq_count[]", max(t.irq_keys, 1))
        got = lib.tally_irqs(self._t, out, t.irq_keys)
        return [IrqCount(IRQ_KINDS[c.kind], c.key, c.count) for c in (out[i] for i in range(got))]

    def exit_latency(self) -> list[ExitLatency]:
        """Per exit reason seen, the exits timed to their re-entry (count 0: none yet)."""
        t = ffi.new("struct tally_totals *")
        lib.tally_totals(self._t, t)
        out = ffi.new("struct exit_latency[]", max(t.exit_reasons, 1))
        got = lib.tally_exit_latency(self._t, out, t.exit_reasons)
        return [
            ExitLatency(r.isa, r.reason, r.count, r.sum_ns, r.min_ns if r.count else 0, r.max_ns)
            for r in (out[i] for i in range(got))
        ]

    def entries(self) -> list[Entry]:
        """Every (thread, doorbell, width, value) written, with its counts."""
        n = self._count()
        out = ffi.new("struct tally_entry[]", max(n, 1))
        got = lib.tally_entries(self._t, out, n)
        return [
            Entry(
                e.tid,
                BUSES[e.bus],
                e.addr,
                e.width,
                e.value if e.has_value else None,
                e.writes,
                e.exits,
                e.undecided,
            )
            for e in (out[i] for i in range(got))
        ]

    def _count(self) -> int:
        t = ffi.new("struct tally_totals *")
        lib.tally_totals(self._t, t)
        return int(t.entries)
