"""Immutable views of the lab, handed to the UI and to `iofdtui bench`.

Everything here is a count taken by the kernel (eventfd counters), by the
run loop (userspace exits) or by the guest (rings, timed samples), or a
figure computed from such counts in the way its docstring says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.kernel_counters import KernelCounters
from iofdtui.engine.latency import NO_SAMPLES, Latency
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.zone_stats import RingStats, ZoneStats

READERS: tuple[str, ...] = ("none", "poll", "epoll")
"""The eventfd reader modes, in the order `c` cycles through them.

- none: no thread waits on the eventfds; every reading and checkpoint drains
  them with non-blocking reads (what kvm-unit-tests + QEMU pci-testdev measure).
- poll: a thread busy-polls every eventfd (vhost busy-poll, SPDK).
- epoll: a thread sleeps in epoll_wait (QEMU iothreads, vhost by default).
"""


@dataclass(frozen=True, slots=True)
class ReaderCost:
    """One path's ring cost under one reader mode, since the last reset.

    Each epoch's rings are attributed to the reader in force during it.

    Attributes:
        reader: "none", "poll" or "epoll".
        stream: the ring cost of flat-out rings (visits of many rings).
        kick: the cost of a paced ring (one write to an idle device).
    """

    reader: str
    stream: Latency
    kick: Latency


@dataclass(frozen=True, slots=True)
class WhyCost:
    """What a ring's cost is made of, over the last interval (None: not measured).

    Attributes:
        reader_wakeups: the reader's returns from epoll_wait that read this
            eventfd (lab-wide: any eventfd), over the interval.
        signals: signals over the same interval.
        preemptions: the vCPU thread(s)' involuntary context switches
            (`nonvoluntary_ctxt_switches`, /proc/self/task/TID/status).
        runqueue_wait_ns: time the vCPU thread(s) waited runnable on a run
            queue (`/proc/self/task/TID/schedstat`, second field).
        rings: guest rings over the same interval (every slot, every vCPU).
    """

    reader_wakeups: int
    signals: int
    preemptions: int
    runqueue_wait_ns: int
    rings: int

    @property
    def wakeups_per_1k_signals(self) -> float | None:
        """Reader wake-ups per 1,000 signals (0 under reader none)."""
        return 1000 * self.reader_wakeups / self.signals if self.signals else None

    @property
    def preemptions_per_1k_rings(self) -> float | None:
        """Involuntary switches of the vCPU thread per 1,000 rings."""
        return 1000 * self.preemptions / self.rings if self.rings else None

    @property
    def runqueue_ns_per_ring(self) -> float | None:
        """Run-queue wait of the vCPU thread per ring, in ns."""
        return self.runqueue_wait_ns / self.rings if self.rings else None


@dataclass(frozen=True, slots=True)
class WakeLatency:
    """Guest doorbell write → the consumer thread running, in paced mode.

    Both ends on the guest's TSC clock: the guest stamps each paced ring four
    instructions before its write; the consumer reads the host TSC when
    epoll_wait returns and maps it through KVM_VCPU_TSC_OFFSET.  A sample is
    kept only when the consumer alone read exactly one signal that the last
    ring made (see native/eventfds.c `wake_sample`); the others are counted by reason.

    Attributes:
        samples: rings with a latency.
        p50_ns, p99_ns, mean_ns: None without samples or without a clock mapping.
        coalesced: reads that returned more than one signal.
        raced: the eventfd was drained by a reading since the consumer's last read.
        foreign: the last ring made was another registration's (or a userspace exit's).
        unpublished: the guest's ring record did not settle in time.
        negative: samples before their own stamp: the clock mapping is wrong.
        elsewhere: read by a reading or a pause rather than the consumer.

    Each field counts signals, so while paced since the last reset
    `samples + discarded == signals` exactly.
    """

    samples: int
    p50_ns: float | None
    p99_ns: float | None
    mean_ns: float | None
    coalesced: int = 0
    raced: int = 0
    foreign: int = 0
    unpublished: int = 0
    negative: int = 0
    elsewhere: int = 0

    @property
    def discarded(self) -> int:
        """Signals read without a sample."""
        return (
            self.coalesced
            + self.raced
            + self.foreign
            + self.unpublished
            + self.negative
            + self.elsewhere
        )


@dataclass(frozen=True, slots=True)
class VcpuCounts:
    """One vCPU's share of a doorbell: the rings it made and its userspace exits.

    Signals cannot be split (an eventfd counter does not know who rang it),
    but at a pause `rings - exits` is exactly what this vCPU's writes
    signalled, since each exit is counted by the vCPU thread that took it.
    `issued` brackets `rings` as on DoorbellStats.
    """

    vcpu: int
    rings: int
    exits: int
    issued: int | None = None


@dataclass(frozen=True, slots=True)
class MachineFacts:
    """What the numbers are about."""

    kernel: str
    kvm_module: str
    emulated: bool | None
    emulation_note: str
    tsc_khz: int
    api_version: int
    capabilities: tuple[str, ...]
    vcpus: int = 1


@dataclass(frozen=True, slots=True)
class RegistrationStats:
    """One registration (one eventfd) and what it served.

    Attributes:
        id: the engine's registration id.
        spec: bus, address, width, trigger.
        eventfd: the eventfd's file descriptor number (while registered).
        signals: the eventfd counter's sum since the last reset.
        signals_per_s: signals over the last snapshot interval.
        rings: guest rings the engine attributes to it (must equal signals).
        latency: guest-measured ring cost of the rings it served.
        ratio: its baseline's p50 / latency p50, like for like: both under the
            reader in force, both stream figures (or both kick figures when
            paced).  The baseline is the userspace-exit path of the same bus
            and `baseline_width`, same run: `Snapshot.baseline_for(row)`.
        removed: True for a registration that was removed (final counts).
        baseline_width: the width whose userspace exit is its baseline: the
            registration's own, or for an any-length one the width the guest
            writes there (0: no width known, no baseline).
        reader_wakeups: the reader's wake-ups that read this eventfd over the
            snapshot interval (None on a first reading).
        new_signals: its signals over the same interval (None likewise).

    Nothing lab-wide is kept in a row (the baseline and the vCPU figures are
    the Snapshot's), so a registration nothing happened to has the same row,
    the same object, from one reading to the next: at 1,000 registrations
    most rows cost nothing to read or to show.
    """

    id: int
    spec: RegistrationSpec
    eventfd: int
    signals: int
    signals_per_s: float | None
    rings: int
    latency: Latency
    ratio: float | None
    removed: bool = False
    wake: WakeLatency | None = None  # None: never measured (no paced rings yet)
    kick: Latency | None = None  # paced rings' cost under the current reader (None: none yet)
    by_reader: tuple[ReaderCost, ...] = ()  # every reader mode measured since reset
    baseline_width: int = 0
    reader_wakeups: int | None = None
    new_signals: int | None = None
    completion: CompletionStats | None = None  # its completion interrupt (None: none)


@dataclass(frozen=True, slots=True)
class SlotStats:
    """One write in the ring plan: what the guest rang and who served it."""

    index: int
    spec: SlotSpec
    rings: int
    exits: int
    served_by: int | None
    latency: Latency
    vcpu: int = 0  # the vCPU whose plan holds it


@dataclass(frozen=True, slots=True)
class DoorbellStats:
    """One doorbell (bus + address): every ring there, and where it went.

    `rings == signals + exits + entries` holds exactly whenever the guest is
    parked (`entries`: writes that landed in a coalesced zone's ring).
    While it runs, the guest announces each visit's rings before writing them
    (`issued`) and counts them after (`rings`), and the engine reads rings,
    then signals, exits and entries, then issued; so `rings <= signals +
    exits + entries <= issued` holds at every instant, and a lost or invented
    count breaks it.
    """

    bus: Bus
    addr: int
    rings: int
    signals: int
    exits: int
    exits_by_value: tuple[tuple[int, int, int], ...]  # (width, value, exits)
    issued: int | None = None  # None: unknown (then only the exact balance is checked)
    per_vcpu: tuple[VcpuCounts, ...] = ()  # rings and exits per vCPU; they sum to the totals
    # Coalesced: ring entries (the ring does not say which vCPU wrote them, so
    # they are not in `per_vcpu`), by (width, value), and the exits among
    # `exits` that were zoned writes finding the ring full.
    entries: int = 0
    entries_by_value: tuple[tuple[int, int, int], ...] = ()  # (width, value, entries)
    ring_full: int = 0

    @property
    def counted(self) -> int:
        """Every ring the host saw: signals + exits + ring entries."""
        return self.signals + self.exits + self.entries

    @property
    def balance(self) -> int:
        """rings - signals - exits - entries: 0 when every ring is accounted for."""
        return self.rings - self.counted

    @property
    def in_flight(self) -> int:
        """Counted rings the guest has not yet counted itself (0 when parked)."""
        return self.counted - self.rings

    @property
    def live_ok(self) -> bool:
        """rings <= signals + exits + entries <= issued (exact balance when `issued` is unknown)."""
        if self.issued is None:
            return self.balance == 0
        return self.rings <= self.counted <= self.issued


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The exact accounting taken at the last pause (a quiescent point)."""

    number: int
    taken_at: float
    exact: bool
    doorbells: tuple[DoorbellStats, ...]
    attribution_ok: bool
    kernel: KernelCounters | None = None  # since the previous checkpoint
    # (registration id, its completion) for each registration with one
    completions: tuple[tuple[int, CompletionStats], ...] = ()

    @property
    def conserved(self) -> bool:
        """Every doorbell balances: guest rings == signals + userspace exits + ring entries."""
        return all(d.balance == 0 for d in self.doorbells)

    @property
    def completions_exact(self) -> bool:
        """Every completion: kicks = signals read = irqfd writes = handler runs."""
        return all(stats.exact for _, stats in self.completions)

    @property
    def holds(self) -> bool:
        """The whole verdict: parked by handshake, conserved, every ring on its predicted
        path, every completion exact."""
        return self.exact and self.conserved and self.attribution_ok and self.completions_exact


@dataclass(frozen=True, slots=True)
class Health:
    """Things that should stay zero; each is shown when it does not."""

    stray_exits: int
    last_stray: str | None
    garbage_pages: int
    forced_pauses: int
    unsolicited_parks: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole lab at one instant.

    Attributes:
        taken_at: time.monotonic() of the reading.
        interval_s: seconds since the previous snapshot (rates use it).
        state: "idle", "running", "paused" or "faulted".
        fault: what stopped the guest, when faulted.
        timer_overhead_ns: median of the empty timed window, subtracted from
            every latency figure.
        ring_rate: guest rings per second over `interval_s`.
    """

    taken_at: float
    interval_s: float | None
    state: str
    fault: str | None
    machine: MachineFacts
    timer_overhead_ns: float | None
    total_rings: int
    ring_rate: float | None
    registrations: tuple[RegistrationStats, ...]
    removed: tuple[RegistrationStats, ...]
    slots: tuple[SlotStats, ...]
    doorbells: tuple[DoorbellStats, ...]
    checkpoint: Checkpoint | None
    health: Health
    consumer: str = "epoll"  # the eventfd reader: "none", "poll" or "epoll" (READERS)
    pace_us: float | None = None  # paced mode: one ring per visit, this far apart
    wake_note: str | None = None  # why wake-up latency cannot be shown (None: it can)
    vcpus: int = 1  # vCPUs ringing (each with its own plan)
    pinning: str | None = None  # e.g. "vCPU→CPU1 · reader and the rest→CPU0"; None: not pinned
    why: WhyCost | None = None  # lab-wide: reader wake-ups, vCPU preemptions, run-queue wait
    # The userspace-exit path of each (bus, width), under the reader in force:
    # every registration's baseline (`baseline_for`).
    baselines: Mapping[tuple[Bus, int], Latency] = field(default_factory=dict)
    zones: tuple[ZoneStats, ...] = ()  # live coalesced zones, then those removed since reset
    ring: RingStats | None = None  # the coalesced ring (None before the first zone)

    def baseline_for(self, stats: RegistrationStats) -> Latency:
        """A registration's baseline: the userspace exit of its bus and
        `baseline_width` in this reading (no samples when it has none)."""
        return self.baselines.get((stats.spec.bus, stats.baseline_width), NO_SAMPLES)

    def why_for(self, stats: RegistrationStats) -> WhyCost | None:
        """What a registration's cost is made of over the interval: its own
        reader wake-ups and signals with the lab's vCPU figures (None: not
        measured)."""
        why = self.why
        if why is None or stats.reader_wakeups is None or stats.new_signals is None:
            return None
        return WhyCost(
            stats.reader_wakeups,
            stats.new_signals,
            why.preemptions,
            why.runqueue_wait_ns,
            why.rings,
        )
