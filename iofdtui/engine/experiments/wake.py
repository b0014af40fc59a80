"""`iofdtui bench --wake`: from the guest's doorbell write to the host's eventfd reader.

The ring cost the guest measures says how long the vCPU is held; a device
model cares when its own thread runs.  Here one doorbell is rung in paced
mode (one ring per period, so each wake-up belongs to one ring), the guest
stamps each ring with its TSC, and the consumer thread reads the host TSC
when `epoll_wait` returns, mapped to guest time with KVM_VCPU_TSC_OFFSET.
Each phase measures one bus with one consumer mode: blocking in
`epoll_wait` (a thread that sleeps) or busy polling (one that never does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import READERS, Latency, WakeLatency

DOORBELL = {Bus.PIO: (0x03F8, 1), Bus.MMIO: (0xFE00_0000, 4)}
CONSUMERS = ("epoll", "poll")  # the readers that wake up; "none" gives the kick cost only
WARMUP_S = 0.1


@dataclass(frozen=True, slots=True)
class WakePhase:
    """One bus, one consumer mode."""

    bus: Bus
    consumer: str


@dataclass(frozen=True, slots=True)
class WakeResult:
    """What one phase measured."""

    phase: WakePhase
    wake: WakeLatency | None
    rings: int
    signals: int
    exact: bool
    kick: Latency | None = None  # the paced write's own cost: a kick to an idle device

    def as_json(self) -> dict[str, object]:
        """JSON row."""
        w = self.wake
        return {
            "bus": self.phase.bus.value,
            "consumer": self.phase.consumer,
            "rings": self.rings,
            "signals": self.signals,
            "exact": self.exact,
            "samples": w.samples if w else 0,
            "kick_ns": {
                "p50": self.kick.p50_ns if self.kick else None,
                "p99": self.kick.p99_ns if self.kick else None,
                "mean": self.kick.mean_ns if self.kick else None,
                "samples": self.kick.samples if self.kick else 0,
            },
            "wake_ns": {
                "p50": w.p50_ns if w else None,
                "p99": w.p99_ns if w else None,
                "mean": w.mean_ns if w else None,
            },
            "discarded": {
                "coalesced": w.coalesced if w else 0,
                "raced": w.raced if w else 0,
                "foreign": w.foreign if w else 0,
                "unpublished": w.unpublished if w else 0,
                "negative": w.negative if w else 0,
                "elsewhere": w.elsewhere if w else 0,
            },
        }


@dataclass(frozen=True, slots=True)
class WakeReport:
    """A whole `--wake` run."""

    period_us: float
    seconds: float
    note: str | None  # why no latency could be shown, when none could
    tsc_offset: str
    kvm_module: str
    results: tuple[WakeResult, ...]
    pinning: str | None = None  # where the threads were pinned, if they were

    def sleeping_cost_ns(self, bus: Bus) -> float | None:
        """p50 with a blocking consumer minus p50 with a polling one, on one bus."""
        by = {r.phase.consumer: r.wake for r in self.results if r.phase.bus is bus}
        epoll, poll = by.get("epoll"), by.get("poll")
        if epoll and poll and epoll.p50_ns is not None and poll.p50_ns is not None:
            return epoll.p50_ns - poll.p50_ns
        return None

    def as_json(self) -> dict[str, object]:
        """JSON document."""
        return {
            "period_us": self.period_us,
            "seconds": self.seconds,
            "note": self.note,
            "tsc_offset": self.tsc_offset,
            "kvm_module": self.kvm_module,
            "pinning": self.pinning,
            "results": [r.as_json() for r in self.results],
        }


def wake_phases(consumers: Sequence[str] = CONSUMERS) -> Iterator[WakePhase]:
    """Every bus with every consumer mode asked for."""
    for bus in (Bus.PIO, Bus.MMIO):
        for consumer in consumers:
            yield WakePhase(bus, consumer)


def run_wake_phase(lab: Lab, phase: WakePhase, seconds: float) -> WakeResult:
    """Ring one doorbell, paced, on a lab that is set up and paused; read its wake-ups."""
    lab.set_reader(phase.consumer)
    snap, exact = lab.run_epoch(seconds, WARMUP_S)
    (reg,) = snap.registrations
    return WakeResult(
        phase=phase,
        wake=reg.wake,
        rings=snap.total_rings,
        signals=reg.signals,
        exact=exact,
        kick=reg.kick,
    )


def run_wake(
    seconds: float,
    period_us: float = 100.0,
    consumers: Sequence[str] = CONSUMERS,
    progress: Callable[[WakePhase], None] | None = None,
    pin: bool = False,
) -> WakeReport:
    """Measure wake-up latency and the kick's cost for each bus and reader, one lab
    per bus.  Under reader "none" nothing wakes: only the kick is measured."""
    unknown = [c for c in consumers if c not in READERS]
    if unknown or not consumers:
        raise ValueError(f"readers must be among {', '.join(READERS)}, not {unknown or 'none'}")
    results: list[WakeResult] = []
    note = offset = module = ""
    pinning: str | None = None
    for bus in (Bus.PIO, Bus.MMIO):
        addr, width = DOORBELL[bus]
        with Lab() as lab:
            lab.set_plan([SlotSpec(bus, addr, width, 1, 0)])
            lab.add_registration(RegistrationSpec(bus, addr, width))
            lab.set_pace(period_us)
            if pin:
                lab.set_pinning(True)
            lab.start()
            lab.pause()
            for phase in wake_phases(consumers):
                if phase.bus is not bus:
                    continue
                if progress:
                    progress(phase)
                results.append(run_wake_phase(lab, phase, seconds))
            note = lab.wake_note or ""
            pinning = lab.pinning
            offset = lab.tsc_offset_text()
            module = lab.machine.kvm_module
    return WakeReport(period_us, seconds, note or None, offset, module, tuple(results), pinning)
