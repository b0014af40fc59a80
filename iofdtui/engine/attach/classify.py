"""Which path served each traced write: in the kernel (an ioeventfd) or userspace.

The rule, per vCPU thread, in time order: a write followed by a
`kvm_userspace_exit` of its bus's kind (KVM_EXIT_IO for PIO, KVM_EXIT_MMIO
for MMIO) before that thread's next access went to userspace (an *exit*);
a write followed by another access first was served in the kernel.  A
thread's last write stays *undecided* until its next event arrives.

KVM emits the write's tracepoint (`kvm_pio`, `kvm_mmio`) whichever path
serves it and `kvm_userspace_exit` on every return to userspace, so on one
thread an exit of that kind follows only the access that caused it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from iofdtui.engine.attach.ringbuffer import EXIT, WRITE, Event

Key = tuple[object, int, int, int | None]
"""A write's doorbell and value: (bus, addr, width, value); value None: not traced."""

_READ = object()  # a thread's pending access is a read (its exit is no write's)


class Tally:
    """Counts writes and exits per (doorbell, value) and per thread."""

    def __init__(self) -> None:
        self.writes: Counter[tuple[int, Key]] = Counter()  # (tid, key) -> writes
        self.exits: Counter[tuple[int, Key]] = Counter()  # (tid, key) -> exits
        self.pending: dict[int, object] = {}  # tid -> (tid, Key) of its undecided write, or _READ
        self.read_exits = 0  # exits that completed a read
        self.unmatched_exits = 0  # exits with no access before them in the trace
        self.events = 0

    def feed(self, events: Iterable[Event]) -> None:
        """Take events in time order (each thread's own in its order)."""
        writes, exits, pending = self.writes, self.exits, self.pending
        n = 0
        for _ts, tid, op, what in events:
            n += 1
            if op == WRITE:
                key = (tid, what)
                writes[key] += 1
                pending[tid] = key
            elif op == EXIT:
                last = pending.pop(tid, None)
                if last is _READ:
                    self.read_exits += 1
                elif last is not None and last[1][0] == what:  # type: ignore[index]
                    exits[last] += 1  # type: ignore[index]
                else:
                    # Its access came before the trace began, or was lost with other events.
                    self.unmatched_exits += 1
            else:
                pending[tid] = _READ
        self.events += n

    def undecided(self) -> Counter[tuple[int, Key]]:
        """Each thread's last write, not yet followed by anything."""
        return Counter(key for key in self.pending.values() if key is not _READ)  # type: ignore[misc]
