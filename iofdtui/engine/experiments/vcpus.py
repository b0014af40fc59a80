"""`iofdtui bench --vcpus 2`: two vCPUs ringing at once, against one.

Per bus, three phases, each on a fresh lab, in one run:

- `1 vCPU`: vCPU 0 rings doorbell A, served by its own eventfd (the reference);
- `own eventfds`: vCPU 0 rings A and vCPU 1 rings B, each with its own eventfd;
- `one eventfd`: both vCPUs ring A, served by one registration (one eventfd).

Each vCPU's figures are its own: rings counted by its guest counters, ring
cost from its own timed rings (guest-measured, net of the timer overhead
measured in the same phase).  A phase is exact when it ended with rings =
signals + userspace exits per doorbell, the registration's signals equal to
the rings of every slot routed to it, and no ring exited to userspace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from iofdtui.engine.experiments.bench import WARMUP_S, kernel_json, machine_json
from iofdtui.engine.kernel_counters import KernelCounters
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import Latency

DOORBELLS = {Bus.PIO: (0x03F8, 0x0600), Bus.MMIO: (0xFE00_0000, 0xFE0F_F000)}
WIDTH = {Bus.PIO: 1, Bus.MMIO: 4}
MODES = ("1 vCPU", "own eventfds", "one eventfd")
RING_VALUE = 0x5A
WEIGHT = 64  # 64 blocks of 16 rings + 1 timed ring per visit, as `iofdtui bench`


@dataclass(frozen=True, slots=True)
class VcpuShare:
    """What one vCPU did in a phase."""

    vcpu: int
    rings: int
    seconds: float
    latency: Latency

    @property
    def rings_per_s(self) -> float:
        """This vCPU's rings per second over the measured window."""
        return self.rings / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class VcpuPhaseResult:
    """One phase: per-vCPU shares, how busy the host was, and the accounting."""

    bus: Bus
    mode: str
    shares: tuple[VcpuShare, ...]
    cpu_busy: float  # process CPU seconds per wall second over the window
    conserved: bool
    signals: int
    exits: int
    timer_overhead_ns: float | None
    kernel: KernelCounters | None

    @property
    def rings_per_s(self) -> float:
        """Every vCPU's rings per second together."""
        return sum(s.rings_per_s for s in self.shares)

    def as_json(self) -> dict[str, object]:
        """One row of the JSON document."""
        return {
            "bus": self.bus.value,
            "mode": self.mode,
            "vcpus": [
                {
                    "vcpu": s.vcpu,
                    "rings": s.rings,
                    "rings_per_s": round(s.rings_per_s, 1),
                    "latency_ns": {
                        "p50": s.latency.p50_ns,
                        "p99": s.latency.p99_ns,
                        "mean": s.latency.mean_ns,
                    },
                    "samples": s.latency.samples,
                }
                for s in self.shares
            ],
            "rings_per_s": round(self.rings_per_s, 1),
            "cpu_busy": round(self.cpu_busy, 3),
            "signals": self.signals,
            "userspace_exits": self.exits,
            "conserved": self.conserved,
            "timer_overhead_ns": self.timer_overhead_ns,
            "kernel": None if self.kernel is None else kernel_json(self.kernel),
        }


def _setup(bus: Bus, mode: str) -> tuple[int, list[list[SlotSpec]], list[RegistrationSpec]]:
    """(vCPUs, a plan per vCPU, registrations) for one phase."""
    a, b = DOORBELLS[bus]
    width = WIDTH[bus]
    slot_a = SlotSpec(bus, a, width, RING_VALUE, WEIGHT)
    slot_b = SlotSpec(bus, b, width, RING_VALUE, WEIGHT)
    reg_a, reg_b = RegistrationSpec(bus, a, width), RegistrationSpec(bus, b, width)
    if mode == "1 vCPU":
        return 1, [[slot_a]], [reg_a]
    if mode == "own eventfds":
        return 2, [[slot_a], [slot_b]], [reg_a, reg_b]
    return 2, [[slot_a], [slot_a]], [reg_a]


def _vcpu_rings(snapshot: object, vcpus: int) -> list[int]:
    doors = snapshot.doorbells  # type: ignore[attr-defined]
    return [sum(d.per_vcpu[k].rings for d in doors) for k in range(vcpus)]


def run_vcpu_phase(
    bus: Bus,
    mode: str,
    seconds: float,
    consumer: str = "epoll",
    pin: bool = False,
    irqchip: bool = False,
) -> VcpuPhaseResult:
    """Measure one phase on a fresh lab (`irqchip`: made with an in-kernel irqchip, as
    the app's labs are, with no completion attached)."""
    vcpus, plans, regs = _setup(bus, mode)
    with Lab(vcpus=vcpus, completions=irqchip) as lab:
        lab.set_reader(consumer)
        if pin:
            lab.set_pinning(True)
        lab.set_plans(plans)
        for spec in regs:
            lab.add_registration(spec)
        lab.start()
        time.sleep(WARMUP_S)
        lab.reset_counters()  # warm-up rings out of the figures; a fresh kernel baseline
        start, cpu0 = lab.snapshot(), time.process_time()
        time.sleep(seconds)
        end, cpu1 = lab.snapshot(), time.process_time()
        lab.pause()  # takes the checkpoint
        checkpoint = lab.checkpoint()
        snap = lab.snapshot()
        lab.stop()
    wall = end.taken_at - start.taken_at
    before, after = _vcpu_rings(start, vcpus), _vcpu_rings(end, vcpus)
    shares = tuple(
        VcpuShare(
            vcpu=k,
            rings=after[k] - before[k],
            seconds=wall,
            latency=next(s.latency for s in snap.slots if s.vcpu == k),
        )
        for k in range(vcpus)
    )
    signals = sum(d.signals for d in checkpoint.doorbells)
    exits = sum(d.exits for d in checkpoint.doorbells)
    return VcpuPhaseResult(
        bus=bus,
        mode=mode,
        shares=shares,
        cpu_busy=(cpu1 - cpu0) / wall if wall else 0.0,
        conserved=checkpoint.holds and exits == 0,
        signals=signals,
        exits=exits,
        timer_overhead_ns=snap.timer_overhead_ns,
        kernel=checkpoint.kernel,
    )


@dataclass(frozen=True, slots=True)
class VcpuBenchReport:
    """A whole `--vcpus 2` run."""

    machine: dict[str, object]
    results: tuple[VcpuPhaseResult, ...]

    def as_json(self) -> dict[str, object]:
        """The JSON document: machine facts and one row per phase."""
        return {"machine": self.machine, "results": [r.as_json() for r in self.results]}


def run_vcpu_bench(
    seconds: float,
    consumer: str = "epoll",
    progress: Callable[[Bus, str], None] | None = None,
    pin: bool = False,
) -> VcpuBenchReport:
    """Every phase, bus by bus; raises KvmUnavailable without KVM or a second vCPU."""
    results = []
    for bus in (Bus.PIO, Bus.MMIO):
        for mode in MODES:
            if progress:
                progress(bus, mode)
            results.append(run_vcpu_phase(bus, mode, seconds, consumer, pin))
    with Lab(vcpus=2) as lab:  # facts only; it never runs
        m = lab.machine
    machine = {
        **machine_json(m),
        "host_cpus": os.cpu_count(),
        "consumer": consumer,
        "reader": consumer,
        "pinning": "vCPU threads on one CPU, the reader on another" if pin else None,
        "latency_note": "guest-measured ring cost per vCPU, net of timer overhead; one sample "
        "is one visit: the mean cost per ring of its back-to-back rings",
    }
    return VcpuBenchReport(machine=machine, results=tuple(results))
