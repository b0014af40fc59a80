"""Attach to a KVM process: its doorbells, live, from the kernel's own tracepoints.

`Tracer(pid)` opens a tracefs instance of its own recording `kvm_pio`,
`kvm_mmio`, `kvm_fast_mmio` (where the kernel has it), the userspace exits
of kinds IO and MMIO, the interrupt events and kvm_exit/kvm_entry where the
kernel has them, for that process's threads only; `poll()` reads every
CPU's buffer, puts the events in time order and classifies them (classify.py);
`snapshot()` returns the counts as an AttachSnapshot, with the interrupts
per vector and GSI and the exit latency per reason (interrupts.py,
exit_latency.py).

Events of one thread may sit in two CPUs' buffers when it migrated, so an
event is classified only once every CPU has had time to commit the events
before it: those younger than HOLD_NS wait for the next poll (all go at the
last one).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from iofdtui.engine import host
from iofdtui.engine.attach.exit_latency import EXIT_EVENTS, latencies, reason_names, unavailable
from iofdtui.engine.attach.interrupts import IRQ_EVENTS, interrupts
from iofdtui.engine.attach.processes import kvm_process, threads_of
from iofdtui.engine.attach.snapshot import (
    AttachSnapshot,
    TraceCost,
    TracedDoorbell,
    TracedThread,
    TracedValue,
    TraceSetup,
)
from iofdtui.engine.attach.tally import Entry, NativeTally
from iofdtui.engine.attach.tracefs import DEFAULT_BUFFER_KB, TraceInstance, find_tracefs

HOLD_NS = 20_000_000  # an event is committed within µs of its timestamp; 20 ms is ample
EXIT_FILTER = "errno == 0 && (reason == 2 || reason == 6)"  # KVM_EXIT_IO, KVM_EXIT_MMIO
REQUIRED = ("kvm_pio", "kvm_mmio", "kvm_userspace_exit")
OPTIONAL = ("kvm_fast_mmio", *IRQ_EVENTS)  # where this kernel has them

EXIT_LATENCY_OFF = "off: `iofdtui attach PID --exit-latency` times the exits (it traces every one)"


def events_for(root: Path, exit_latency: bool = False) -> list[tuple[str, str, str | None]]:
    """The events to enable: the required ones, and the optional ones this kernel has.

    `exit_latency` adds kvm_exit/kvm_entry: on VMX/SVM they fire at every exit,
    in-kernel doorbell writes included, and share the doorbells' buffer, so
    they are asked for, never on by default.
    """
    events: list[tuple[str, str, str | None]] = [
        ("kvm", "kvm_pio", None),
        ("kvm", "kvm_mmio", None),
        ("kvm", "kvm_userspace_exit", EXIT_FILTER),
    ]
    for name in OPTIONAL + (EXIT_EVENTS if exit_latency else ()):
        if (root / "events" / "kvm" / name).is_dir():
            events.append(("kvm", name, None))
    return events


class Tracer:
    """One traced KVM process: open, poll, snapshot, close (a context manager).

    `poll()` and `snapshot()` may be called from different threads.
    """

    def __init__(
        self,
        pid: int,
        root: Path | None = None,
        buffer_kb: int = DEFAULT_BUFFER_KB,
        exit_latency: bool = False,
    ) -> None:
        self.pid = pid
        self.process = kvm_process(pid)  # NoSuchVm before any tracefs work
        self.root = root if root is not None else find_tracefs()
        self.buffer_kb = buffer_kb
        self.exit_latency = exit_latency
        """Whether kvm_exit/kvm_entry are traced (events_for)."""
        self._instance = TraceInstance(
            events_for(self.root, exit_latency), threads_of(pid) or (pid,), self.root, buffer_kb
        )
        # What the format files say, read once at open (they never change).
        self._have_exits = False
        self._reason_names: dict[int, dict[int, str]] = {}
        self._irq_events: tuple[str, ...] = ()
        self._tally: NativeTally | None = None
        self._lock = threading.Lock()
        self._started = 0.0
        self._cpu_s = 0.0
        self._last: tuple[float, int] | None = None  # (monotonic s, events) at the last snapshot
        self._lost = 0
        self._lost_base = 0  # the kernel's count at the last reset
        self._flavour = host.kvm_module()

    @property
    def instance_name(self) -> str:
        """The tracefs instance's name (under instances/)."""
        return self._instance.name

    def setup(self) -> TraceSetup:
        """What this tracer records (after `open()`: the events this kernel has)."""
        return TraceSetup(
            pid=self.pid,
            comm=self.process.comm,
            kernel=host.kernel_release(),
            flavour=self._flavour,
            events=tuple(self._instance.formats),  # the enabled ones, by name
            exit_latency=self.exit_latency,
            buffer_kb=self.buffer_kb,
        )

    def open(self) -> Tracer:
        """Start recording; TraceUnavailable says why it cannot."""
        self._instance.open()
        assert self._instance.layout is not None
        try:
            self._tally = NativeTally(self._instance.formats, self._instance.layout)
        except BaseException:
            self._instance.close()
            raise
        formats = self._instance.formats
        self._have_exits = all(e in formats for e in EXIT_EVENTS)
        if self._have_exits:
            self._reason_names = reason_names(formats["kvm_exit"].print_fmt)
        self._irq_events = tuple(e for e in IRQ_EVENTS if e in formats)
        self._started = time.monotonic()
        return self

    def close(self) -> None:
        """Stop recording and remove the instance."""
        self._instance.close()

    def __enter__(self) -> Tracer:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, final: bool = False) -> int:
        """Read what the kernel recorded and classify it; returns the pages read.

        With `final`, every event read is classified (nothing is held back):
        call it when the traced VM is known to be quiet, or at the end.
        """
        if self._tally is None:
            raise RuntimeError("the tracer is not open")
        cpu0 = time.thread_time()
        with self._lock:
            # Taken before reading: every event older than this is in a buffer by now.
            horizon = time.monotonic_ns() - HOLD_NS
            pages = 0
            for cpu in self._instance.cpus():
                read = self._instance.read_pages(cpu)
                self._tally.add_pages(read)
                pages += len(read)
            self._tally.classify(horizon, final)
            self._lost = self._instance.lost() - self._lost_base
            self._cpu_s += time.thread_time() - cpu0
            return pages

    def reset(self) -> None:
        """Zero the counts; tracing goes on (an exit right after may find no write before it)."""
        with self._lock:
            if self._instance.layout is not None:
                self._tally = NativeTally(self._instance.formats, self._instance.layout)
            self._started = time.monotonic()
            self._last = None
            self._cpu_s = 0.0
            self._lost_base = self._instance.lost()

    def snapshot(self) -> AttachSnapshot:
        """The counts so far."""
        with self._lock:
            if self._tally is None:
                raise RuntimeError("the tracer is not open")
            totals = self._tally.totals()
            entries = self._tally.entries()
            irqs, exits = self._tally.irqs(), self._tally.exit_latency()
            now = time.monotonic()
            rate = None
            if self._last is not None and now > self._last[0]:
                rate = (totals.events - self._last[1]) / (now - self._last[0])
            self._last = (now, totals.events)
            cost = TraceCost(totals.events, rate, self._lost, self._cpu_s, self.buffer_kb)
            why_not = (
                unavailable(self._have_exits, self._flavour, totals.hw_exits)
                if self.exit_latency
                else EXIT_LATENCY_OFF
            )
            return AttachSnapshot(
                pid=self.pid,
                comm=self.process.comm,
                elapsed_s=now - self._started if self._started else 0.0,
                doorbells=_doorbells(entries),
                threads=tuple(sorted({e.tid for e in entries})),
                read_exits=totals.read_exits,
                unmatched_exits=totals.unmatched_exits,
                instance=self._instance.name,
                cost=cost,
                interrupts=interrupts(irqs, self._irq_events),
                exit_latency=latencies(exits, self._reason_names, why_not),
            )


def _doorbells(entries: list[Entry]) -> tuple[TracedDoorbell, ...]:
    """Per doorbell, per value and per thread, from per-(thread, key) entries."""
    values: dict[tuple[object, int], dict[tuple[int, int | None], list[int]]] = {}
    threads: dict[tuple[object, int], dict[int, list[int]]] = {}
    for e in entries:
        door = (e.bus, e.addr)
        v = values.setdefault(door, {}).setdefault((e.width, e.value), [0, 0, 0])
        v[0] += e.writes
        v[1] += e.exits
        v[2] += e.undecided
        t = threads.setdefault(door, {}).setdefault(e.tid, [0, 0])
        t[0] += e.writes
        t[1] += e.exits
    out = []
    for (bus, addr), by_value in sorted(values.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        vals = tuple(
            TracedValue(width, value, w, x, u)
            for (width, value), (w, x, u) in sorted(
                by_value.items(), key=lambda kv: (kv[0][0], -1 if kv[0][1] is None else kv[0][1])
            )
        )
        out.append(
            TracedDoorbell(
                bus=bus,  # type: ignore[arg-type]
                addr=addr,
                writes=sum(v.writes for v in vals),
                exits=sum(v.exits for v in vals),
                undecided=sum(v.undecided for v in vals),
                by_value=vals,
                by_thread=tuple(
                    TracedThread(tid, w, x) for tid, (w, x) in sorted(threads[(bus, addr)].items())
                ),
            )
        )
    return tuple(out)


@contextmanager
def attached(
    pid: int, buffer_kb: int = DEFAULT_BUFFER_KB, exit_latency: bool = False
) -> Iterator[Tracer]:
    """A Tracer on `pid`, open for the block and removed after it, whatever happens."""
    tracer = Tracer(pid, buffer_kb=buffer_kb, exit_latency=exit_latency)
    with tracer:
        yield tracer
