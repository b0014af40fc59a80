"""Immutable views of an attached VM's doorbells, as the kernel's tracepoints saw them.

Every figure is a count of traced events: writes (`kvm_pio`, `kvm_mmio`,
`kvm_fast_mmio`), and userspace exits (`kvm_userspace_exit`) tied to the write
before them on the same thread (see classify.py).  In the kernel = writes −
exits − undecided: a write no exit followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from iofdtui.engine.attach.exit_latency import ExitLatencies
from iofdtui.engine.attach.interrupts import Interrupts
from iofdtui.engine.model import Bus

NO_INTERRUPTS = Interrupts((), (), ())
NO_EXIT_LATENCY = ExitLatencies((), "n/a: kvm_exit/kvm_entry not traced")


@dataclass(frozen=True, slots=True)
class TracedValue:
    """The writes of one width and value at a doorbell.

    Attributes:
        width: bytes written (0: a fast-path MMIO write of unknown width).
        value: the value written, or None when the tracepoint does not carry it.
        writes: writes traced.
        exits: those that went to userspace.
        undecided: a thread's last write, with nothing after it yet.
    """

    width: int
    value: int | None
    writes: int
    exits: int
    undecided: int

    @property
    def in_kernel(self) -> int:
        """Writes served in the kernel (by an ioeventfd): no exit followed them."""
        return self.writes - self.exits - self.undecided


@dataclass(frozen=True, slots=True)
class TracedThread:
    """One vCPU thread's writes at a doorbell.

    Attributes:
        tid: the thread's id.
        writes: writes it made there.
        exits: those that went to userspace.
    """

    tid: int
    writes: int
    exits: int


@dataclass(frozen=True, slots=True)
class TracedDoorbell:
    """Every traced write at one address of one bus.

    Attributes:
        bus: pio or mmio.
        addr: port or guest-physical address.
        writes: writes traced.
        exits: writes that went to userspace (KVM_EXIT_IO / KVM_EXIT_MMIO).
        undecided: writes still without a following event (at most one per thread).
        by_value: per (width, value), by width then value.
        by_thread: per vCPU thread, by tid.
    """

    bus: Bus
    addr: int
    writes: int
    exits: int
    undecided: int
    by_value: tuple[TracedValue, ...]
    by_thread: tuple[TracedThread, ...]

    @property
    def in_kernel(self) -> int:
        """Writes served in the kernel (an ioeventfd signalled; no userspace exit)."""
        return self.writes - self.exits - self.undecided


@dataclass(frozen=True, slots=True)
class TraceCost:
    """What tracing costs and whether it kept up.

    Attributes:
        events: events decoded since the start.
        events_per_s: events per second over the last interval (None: first reading).
        lost: events the kernel could not keep (per-CPU `stats`: overrun + dropped).
        cpu_s: CPU time this process spent reading and decoding them.
        buffer_kb: the instance's buffer, per CPU.
    """

    events: int
    events_per_s: float | None
    lost: int
    cpu_s: float
    buffer_kb: int


@dataclass(frozen=True, slots=True)
class TraceSetup:
    """What is traced, and where: what a recording of an attached VM says it holds.

    Attributes:
        pid: the process traced.
        comm: its command name (the VMM's: qemu-system-x86, firecracker, ...).
        kernel: the host kernel's release (`uname -r`).
        flavour: the KVM module serving the VM (kvm_intel, kvm_amd, kvm_pvm).
        events: the tracepoints enabled (kvm_pio, kvm_mmio, ...), as the kernel names them.
        exit_latency: whether kvm_exit/kvm_entry are traced (`--exit-latency`).
        buffer_kb: the instance's buffer, per CPU.
    """

    pid: int
    comm: str
    kernel: str
    flavour: str
    events: tuple[str, ...]
    exit_latency: bool
    buffer_kb: int


@dataclass(frozen=True, slots=True)
class AttachSnapshot:
    """An attached VM's doorbells at one reading.

    Attributes:
        pid: the process traced.
        comm: its command name.
        elapsed_s: seconds since tracing began.
        doorbells: every doorbell written, by bus then address.
        threads: the threads that wrote or exited, by tid.
        read_exits: exits that completed a read (not counted at any doorbell).
        unmatched_exits: exits whose access was not in the trace (before it began, or lost).
        instance: the tracefs instance's name.
        cost: what the tracing costs.
        interrupts: interrupts injected, per vector and per GSI.
        exit_latency: host-side exit latency per exit reason, or why there is none.
    """

    pid: int
    comm: str
    elapsed_s: float
    doorbells: tuple[TracedDoorbell, ...]
    threads: tuple[int, ...]
    read_exits: int
    unmatched_exits: int
    instance: str
    cost: TraceCost
    interrupts: Interrupts = NO_INTERRUPTS
    exit_latency: ExitLatencies = NO_EXIT_LATENCY

    def doorbell(self, bus: Bus, addr: int) -> TracedDoorbell | None:
        """The doorbell at `bus` and `addr`, or None when nothing wrote there."""
        for door in self.doorbells:
            if door.bus == bus and door.addr == addr:
                return door
        return None
