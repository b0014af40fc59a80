"""`iofdtui bench`: the doorbell comparison, measured on this machine.

Each path is its own phase: the guest rings only that doorbell, with only
that registration (or coalesced zone) in place, so rings/s is the path's own
throughput and the latency is the guest-measured cost of its rings, net of the timer overhead
measured in the same phase.  With several readers (`--reader all`) every
path is measured under each, so the cost of having a reader is one
subtraction away.

Two measurements of the same thing are set side by side, per path: the
guest's mean cost per ring (every ring is inside a timed visit) and the
host's wall time per ring over the phase less the guest's time between
visits (the loop's own overhead, timed by the guest).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from iofdtui.engine.kernel_counters import KernelCounters
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import READERS, Latency, MachineFacts, WhyCost
from iofdtui.engine.zone_stats import RingStats

PIO_PORT = 0x03F8
MMIO_ADDR = 0xFE00_0000
RING_VALUE = 0x5A
WARMUP_S = 0.2
ZONE_SIZE = 8  # a coalesced phase's zone: the doorbell's 8 bytes
DELAY_PACE_US = 100.0  # the paced coalesced phases' period


@dataclass(frozen=True, slots=True)
class Phase:
    """One measured path: which doorbell, which registration."""

    bus: Bus
    width: int  # the registration's len (0 = any length)
    write_width: int  # the guest's write
    path: str  # "ioeventfd" | "userspace" | "datamatch-miss" | "coalesced"
    drain: str | None = None  # coalesced: who drains the ring ("exits" or "thread")
    pace_us: float | None = None  # paced: one ring per visit this far apart (the delivery delay)


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What one phase measured."""

    phase: Phase
    rings: int  # over `seconds`, between two readings: the throughput window
    seconds: float
    latency: Latency
    conserved: bool
    signals: int
    exits: int
    kernel: KernelCounters | None = None
    reader: str = "epoll"
    counted: int = 0  # rings from reset to the closing pause: = signals + exits
    loop_ns: float | None = None  # guest time between visits, per ring
    why: WhyCost | None = None  # over the phase
    entries: int = 0  # coalesced: ring entries (counted = signals + exits + entries)
    ring_full: int = 0  # coalesced: exits of writes that found the ring full
    ring: RingStats | None = None  # coalesced: the ring over the phase (drains, occupancy)

    @property
    def ring_full_per_1k(self) -> float | None:
        """Coalesced: writes that found the ring full, per 1,000 writes."""
        return 1000 * self.ring_full / self.counted if self.counted else None

    @property
    def rings_per_s(self) -> float:
        """Guest rings per second over the phase."""
        return self.rings / self.seconds if self.seconds else 0.0

    @property
    def wall_ns(self) -> float | None:
        """Wall time per ring over the phase (the host's clock)."""
        return self.seconds * 1e9 / self.rings if self.rings else None

    @property
    def stream_ns(self) -> float | None:
        """Wall time per ring less the loop's own overhead: what the samples cover."""
        if self.wall_ns is None or self.loop_ns is None:
            return None
        return self.wall_ns - self.loop_ns

    @property
    def agreement(self) -> float | None:
        """Sampled mean cost per ring ÷ the stream's (1.0: they agree)."""
        mean, stream = self.latency.mean_ns, self.stream_ns
        return mean / stream if mean is not None and stream else None

    def as_json(self) -> dict[str, object]:
        """The documented JSON row (see README)."""
        lat = self.latency
        why = self.why
        return {
            "bus": self.phase.bus.value,
            "width": self.phase.width,
            "write_width": self.phase.write_width,
            "path": self.phase.path,
            "reader": self.reader,
            "rings": self.counted,
            "window_rings": self.rings,
            "seconds": round(self.seconds, 6),
            "rings_per_s": round(self.rings_per_s, 1),
            "latency_ns": {"p50": lat.p50_ns, "p99": lat.p99_ns, "mean": lat.mean_ns},
            "samples": lat.samples,
            "rings_per_sample": lat.rings_per_sample,
            "wall_ns_per_ring": self.wall_ns,
            "loop_ns_per_ring": self.loop_ns,
            "cost_agreement": self.agreement,
            "reader_wakeups_per_1k_signals": why.wakeups_per_1k_signals if why else None,
            "preemptions_per_1k_rings": why.preemptions_per_1k_rings if why else None,
            "runqueue_ns_per_ring": why.runqueue_ns_per_ring if why else None,
            "signals": self.signals,
            "userspace_exits": self.exits,
            "conserved": self.conserved,
            "kernel": None if self.kernel is None else kernel_json(self.kernel),
            **(coalesced_json(self) if self.phase.path == "coalesced" else {}),
        }


def coalesced_json(r: PhaseResult) -> dict[str, object]:
    """A coalesced row's own keys (see README): the drain, the ring's entries and fills."""
    ring = r.ring
    return {
        "drain": r.phase.drain,
        "ring_entries": r.entries,
        "ring_full": r.ring_full,
        "ring_full_per_1k_writes": r.ring_full_per_1k,
        "ring_capacity": ring.capacity if ring else None,
        "ring_drains": ring.drains if ring else None,
        "ring_mean_found": ring.mean_found if ring else None,
        "ring_found_max": ring.found_max if ring else None,
        "pace_us": r.phase.pace_us,
        "delay_ns": None
        if ring is None or r.phase.pace_us is None
        else {
            "p50": ring.delay_p50_ns,
            "p99": ring.delay_p99_ns,
            "samples": ring.delay_samples,
            "untimed": ring.delay_untimed,
        },
    }


def machine_json(m: MachineFacts) -> dict[str, object]:
    """The machine facts every bench's JSON opens with (each adds its own after)."""
    return {
        "kernel": m.kernel,
        "kvm_module": m.kvm_module,
        "tsc_khz": m.tsc_khz,
        "emulated": m.emulated,
        "emulation_note": m.emulation_note,
    }


def kernel_json(kernel: KernelCounters) -> dict[str, object]:
    """The kernel's counters over a phase, and the relations checked against ours."""
    return {
        "deltas": kernel.deltas,
        "insn_emulation_per_ring": kernel.insn_per_ring,
        "relations": [
            {
                "stat": r.stat,
                "equals": r.formula,
                "kernel": r.kernel,
                "ours": r.ours,
                "holds": r.holds,
            }
            for r in kernel.relations
        ],
    }


def phases(any_length: bool) -> Iterator[Phase]:
    """Every path the bench measures, in table order."""
    for bus, widths in ((Bus.PIO, (1, 2, 4)), (Bus.MMIO, (1, 2, 4, 8))):
        for width in widths:
            for path in ("ioeventfd", "userspace", "datamatch-miss"):
                yield Phase(bus, width, width, path)
    if any_length:
        yield Phase(Bus.MMIO, 0, 4, "ioeventfd")
    # Coalesced zones over the same doorbells, drained at exits (as VMMs do); at
    # 4 bytes also by the drain thread.
    for bus, widths in ((Bus.PIO, (1, 2, 4)), (Bus.MMIO, (1, 2, 4, 8))):
        for width in widths:
            for drain in ("exits", "thread") if width == 4 else ("exits",):
                yield Phase(bus, width, width, "coalesced", drain)
    # Paced, one ring per visit: how long an entry waits in the ring (the delivery delay).
    for drain in ("thread", "exits"):
        yield Phase(Bus.MMIO, 4, 4, "coalesced", drain, DELAY_PACE_US)


def _doorbell(phase: Phase) -> int:
    return PIO_PORT if phase.bus is Bus.PIO else MMIO_ADDR


def _registration(phase: Phase) -> RegistrationSpec | None:
    addr = _doorbell(phase)
    if phase.path in ("userspace", "coalesced"):
        return None
    if phase.path == "datamatch-miss":
        return RegistrationSpec(phase.bus, addr, phase.width, RING_VALUE ^ 1)
    return RegistrationSpec(phase.bus, addr, phase.width)


def run_phase(lab: Lab, phase: Phase, seconds: float, weight: int = 64) -> PhaseResult:
    """Measure one path on `lab` (which must be started)."""
    slot = SlotSpec(phase.bus, _doorbell(phase), phase.write_width, RING_VALUE, weight)
    with lab.paused():
        for reg_id in list(lab.registrations()):
            lab.remove_registration(reg_id)
        for zone_id in list(lab.zones()):
            lab.remove_zone(zone_id)
        lab.set_plan([slot])
        spec = _registration(phase)
        if spec is not None:
            lab.add_registration(spec)
        if phase.path == "coalesced":
            lab.set_ring_drain(phase.drain or "exits")
            lab.add_zone(phase.bus, _doorbell(phase), ZONE_SIZE)
        if lab.pace_us != phase.pace_us and (phase.pace_us is None or lab.tsc_khz):
            lab.set_pace(phase.pace_us)
    time.sleep(WARMUP_S)
    # From here the guest's samples and the host's clock cover the same stretch.
    lab.reset_counters()
    start = lab.snapshot()
    time.sleep(seconds)
    end = lab.snapshot()  # its `why` covers the phase
    lab.pause()  # takes the checkpoint: exact counts, kernel deltas
    checkpoint = lab.checkpoint()
    snap = lab.snapshot()
    loop_ns = lab.loop_ns_per_ring()
    lab.resume()
    if phase.path == "ioeventfd" and snap.registrations:
        latency = snap.registrations[0].latency
    else:
        latency = snap.slots[0].latency
    door = checkpoint.doorbells[0] if checkpoint.doorbells else None
    why = end.why
    if why is not None and end.registrations:
        why = end.why_for(end.registrations[0]) or why
    rings = end.total_rings - start.total_rings
    return PhaseResult(
        phase=phase,
        rings=rings,
        seconds=end.taken_at - start.taken_at,
        latency=latency if rings else Latency.empty(),
        conserved=checkpoint.holds,
        signals=door.signals if door else 0,
        exits=door.exits if door else 0,
        kernel=checkpoint.kernel,
        reader=lab.reader,
        counted=door.rings if door else 0,
        loop_ns=loop_ns,
        why=why,
        entries=door.entries if door else 0,
        ring_full=door.ring_full if door else 0,
        ring=snap.ring if phase.path == "coalesced" else None,
    )


@dataclass(frozen=True, slots=True)
class BenchReport:
    """A whole bench run."""

    machine: dict[str, object]
    results: tuple[PhaseResult, ...]

    def as_json(self) -> dict[str, object]:
        """The documented JSON document."""
        return {
            "machine": self.machine,
            "results": [r.as_json() for r in self.results],
            "comparisons": comparisons(self.results),
        }


def comparisons(results: tuple[PhaseResult, ...]) -> list[dict[str, object]]:
    """ioeventfd against userspace per bus and width, from the same run.

    `saved_ns` is the latency saved per ring (userspace mean - ioeventfd mean,
    both net); `wall_saved_ns` the difference in wall time per ring between
    the two throughput phases.  They measure the same thing two ways.
    """
    by_key = {(r.reader, r.phase.bus, r.phase.width, r.phase.path): r for r in results}
    out = []
    for r in results:
        if r.phase.path != "ioeventfd" or r.phase.width == 0:
            continue
        user = by_key.get((r.reader, r.phase.bus, r.phase.width, "userspace"))
        if user is None:
            continue
        row: dict[str, object] = {
            "reader": r.reader,
            "bus": r.phase.bus.value,
            "width": r.phase.width,
        }
        a, b = r.latency, user.latency
        row["ratio_p50"] = b.p50_ns / a.p50_ns if a.p50_ns and b.p50_ns and a.p50_ns > 0 else None
        row["saved_ns"] = b.mean_ns - a.mean_ns if a.mean_ns and b.mean_ns else None
        if r.rings_per_s and user.rings_per_s:
            row["wall_saved_ns"] = 1e9 / user.rings_per_s - 1e9 / r.rings_per_s
            row["throughput_ratio"] = r.rings_per_s / user.rings_per_s
        else:
            row["wall_saved_ns"] = row["throughput_ratio"] = None
        saved, wall = row["saved_ns"], row["wall_saved_ns"]
        row["agreement"] = (
            saved / wall if isinstance(saved, float) and isinstance(wall, float) and wall else None
        )
        out.append(row)
    return out


def run_bench(
    seconds: float,
    readers: Sequence[str] = ("epoll",),
    pin: bool = False,
    progress: Callable[[Phase, str], None] | None = None,
    consumer: str | None = None,
) -> BenchReport:
    """Run every phase under each reader, on one lab; raises KvmUnavailable
    when there is no KVM.  `consumer` is the older name of a single reader."""
    if consumer is not None:
        readers = (consumer,)
    unknown = [r for r in readers if r not in READERS]
    if unknown or not readers:
        raise ValueError(f"readers must be among {', '.join(READERS)}, not {unknown or 'none'}")
    with Lab() as lab:
        if pin:
            lab.set_pinning(True)
        lab.start()
        results = []
        for reader in readers:
            lab.set_reader(reader)
            for phase in phases(lab.any_length):
                if progress:
                    progress(phase, reader)
                results.append(run_phase(lab, phase, seconds))
        overhead = lab.timer_overhead_cycles()
        m = lab.machine
        machine = {
            **machine_json(m),
            "timer_overhead_ns": (
                overhead * 1e6 / m.tsc_khz if overhead is not None and m.tsc_khz else None
            ),
            "readers": list(readers),
            "consumer": readers[-1],  # the reader's name before reader modes (last measured)
            "pinning": lab.pinning,
            "capabilities": list(m.capabilities),
            "latency_note": (
                "guest-measured ring cost, net of timer overhead; one sample is one visit: "
                "the mean cost per ring of its back-to-back rings"
            ),
        }
        return BenchReport(machine=machine, results=tuple(results))
