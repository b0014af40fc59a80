"""Fixed reports, as the experiments return them, for rendering without KVM.

Each holds the cases a table must print: missing figures (a dash), a
registration of any length, a broken check, figures past ten million (printed
whole), pinning and the notes of a run cut short.
"""

from __future__ import annotations

from dataclasses import replace

from iofdtui.engine.experiments.bench import BenchReport, Phase, PhaseResult
from iofdtui.engine.experiments.scale import ScalePoint, ScaleReport
from iofdtui.engine.experiments.vcpus import VcpuBenchReport, VcpuPhaseResult, VcpuShare
from iofdtui.engine.experiments.wake import WakePhase, WakeReport, WakeResult
from iofdtui.engine.kernel_counters import KernelCounters, OurCounts, Relation
from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import Latency, WakeLatency, WhyCost
from iofdtui.engine.zone_stats import RingStats

PINNED = "vCPU on CPU 0, reader on CPU 1"

MACHINE = {
    "kernel": "6.1.0-test",
    "kvm_module": "kvm_pvm",
    "tsc_khz": 2_445_406,
    "emulated": True,
    "emulation_note": "kvm_pvm emulates every guest instruction: figures are the "
    "emulator's, not VM-exit costs",
}


def kernel(rings: int, holds: bool = True, insn: int | None = None) -> KernelCounters:
    """Kernel counters over a phase: one relation, holding or not."""
    ours = OurCounts(rings, 0, 0, 0, 0, 0)
    deltas = {"io_exits": rings} if insn is None else {"io_exits": rings, "insn_emulation": insn}
    relation = Relation("io_exits", "userspace exits", rings, rings if holds else rings - 3)
    return KernelCounters(deltas, ours, (relation,))


def bench() -> BenchReport:
    """Two readers, PIO and MMIO, one phase of each kind of figure."""
    why = WhyCost(
        reader_wakeups=412, signals=30_000, preemptions=7, runqueue_wait_ns=912_345, rings=31_000
    )
    results = []
    for reader in ("none", "epoll"):
        results += [
            PhaseResult(
                Phase(Bus.PIO, 1, 1, "ioeventfd"),
                rings=273_411,
                seconds=0.5,
                latency=Latency(900, 1220.4, 9261.0, 3136.6, 65.0),
                conserved=True,
                signals=150_000,
                exits=0,
                kernel=kernel(150_000, insn=181_500),
                reader=reader,
                counted=150_000,
                loop_ns=1700.0,
                why=why,
            ),
            PhaseResult(
                Phase(Bus.PIO, 1, 1, "userspace"),
                rings=30_601,
                seconds=0.5,
                latency=Latency(200, 23760.0, 64902.0, 34725.2),
                conserved=True,
                signals=0,
                exits=16_000,
                kernel=kernel(16_000, holds=False),
                reader=reader,
                counted=16_000,
                loop_ns=1650.0,
                why=None,
            ),
            PhaseResult(
                Phase(Bus.MMIO, 0, 4, "ioeventfd"),
                rings=12_345_678,
                seconds=0.5,
                latency=Latency.empty(),
                conserved=False,
                signals=12_345_678,
                exits=0,
                kernel=None,
                reader=reader,
                counted=12_345_678,
            ),
        ]
    machine = {
        **MACHINE,
        "timer_overhead_ns": 2604.2,
        "readers": ["none", "epoll"],
        "consumer": "epoll",
        "pinning": "vCPU thread on CPU 0, reader on CPU 1",
    }
    return BenchReport(machine=machine, results=tuple(results))


def bench_coalesced() -> BenchReport:
    """The bench sample with coalesced phases: PIO/1 drained at exits, PIO/4 by the thread."""
    report = bench()
    ring = RingStats("exits", 170, 1_059, 178_941, 169, 1_055, 0, 0, 0, 0)
    extra = []
    for reader in ("none", "epoll"):
        extra += [
            PhaseResult(
                Phase(Bus.PIO, 1, 1, "coalesced", "exits"),
                rings=280_000,
                seconds=0.5,
                latency=Latency(1_100, 1290.2, 2705.0, 1587.3),
                conserved=True,
                signals=0,
                exits=1_059,
                kernel=kernel(1_059),
                reader=reader,
                counted=180_000,
                loop_ns=200.0,
                entries=178_941,
                ring_full=1_059,
                ring=ring,
            ),
            PhaseResult(
                Phase(Bus.PIO, 4, 4, "coalesced", "thread"),
                rings=240_000,
                seconds=0.5,
                latency=Latency(1_000, 1495.0, 3710.0, 1934.0),
                conserved=True,
                signals=0,
                exits=356,
                kernel=None,
                reader=reader,
                counted=250_000,
                loop_ns=150.0,
                entries=249_644,
                ring_full=356,
                ring=RingStats("thread", 170, 2_350, 249_644, 169, 12, 0, 0, 0, 0),
            ),
        ]
    extra.append(
        PhaseResult(
            Phase(Bus.MMIO, 4, 4, "coalesced", "thread", 100.0),
            rings=2_500,
            seconds=0.5,
            latency=Latency(2_500, 1596.0, 2931.0, 1702.0),
            conserved=True,
            signals=0,
            exits=0,
            kernel=None,
            reader="epoll",
            counted=2_600,
            loop_ns=190_000.0,
            entries=2_600,
            ring_full=0,
            ring=replace(
                ring,
                mode="thread",
                delay_p50_ns=75_000.0,
                delay_p99_ns=877_700.0,
                delay_samples=1_700,
                delay_untimed=900,
            ),
        )
    )
    return BenchReport(machine=report.machine, results=report.results + tuple(extra))


def scale() -> ScaleReport:
    """Three decoy counts, one missing walk point, and the notes of a limit."""
    lat = Latency(500, 1681.0, 36630.0, 5706.4)
    points = [
        ScalePoint("decoys", 1, lat, 30_267, True),
        ScalePoint("decoys", 1_000, Latency.empty(), 0, False),
        ScalePoint("decoys", 100_000, lat, 12_000_000, True),
        ScalePoint("hit-first", 1, lat, 10_000, True),
        ScalePoint("hit-last", 1, lat, 10_000, True),
        ScalePoint("miss", 1, Latency(400, 10620.0, 15000.0, 12545.0), 9_000, True),
        ScalePoint("hit-first", 8, lat, 10_000, True),
    ]
    notes = (
        "raised RLIMIT_NOFILE from 1024 to 100256 (one eventfd per decoy)",
        "stopped at 8 trigger values after 7 points: [Errno 24] Too many open files",
    )
    return ScaleReport(Bus.PIO, tuple(points), notes)


def wake(note: str | None = None, pinning: str | None = PINNED) -> WakeReport:
    """Both buses: a timed reader, a polling one, one with no clock, one under reader none."""
    kick = Latency(900, 995.0, 20361.0, 1500.0)
    results = (
        WakeResult(
            WakePhase(Bus.PIO, "epoll"),
            WakeLatency(800, 25400.0, 56400.0, 30100.5, coalesced=100, raced=36),
            rings=936,
            signals=936,
            exact=True,
            kick=kick,
        ),
        WakeResult(
            WakePhase(Bus.PIO, "poll"),
            WakeLatency(900, 4100.0, 9000.0, 5000.0, foreign=36),
            rings=936,
            signals=936,
            exact=True,
            kick=kick,
        ),
        WakeResult(
            WakePhase(Bus.MMIO, "epoll"),
            WakeLatency(0, None, None, None, elsewhere=829),
            rings=829,
            signals=829,
            exact=False,
            kick=None,
        ),
        WakeResult(
            WakePhase(Bus.MMIO, "none"),
            None,
            rings=882,
            signals=882,
            exact=True,
            kick=Latency(880, 942.0, None, 950.0),
        ),
    )
    return WakeReport(100.0, 0.2, note, "-1,234 cycles", "kvm_pvm", results, pinning)


def vcpus() -> VcpuBenchReport:
    """PIO's three modes (one vCPU idle in one of them), MMIO without its reference."""
    lat = Latency(500, 2026.0, 7901.0, 2803.0)

    def phase(bus: Bus, mode: str, *rings: int, conserved: bool = True) -> VcpuPhaseResult:
        shares = tuple(
            VcpuShare(k, n, 0.5, lat if n else Latency.empty()) for k, n in enumerate(rings)
        )
        return VcpuPhaseResult(
            bus,
            mode,
            shares,
            cpu_busy=0.884,
            conserved=conserved,
            signals=sum(rings),
            exits=0,
            timer_overhead_ns=2600.0,
            kernel=kernel(sum(rings)) if conserved else None,
        )

    results = (
        phase(Bus.PIO, "1 vCPU", 170_000),
        phase(Bus.PIO, "own eventfds", 38_000, 0),
        phase(Bus.PIO, "one eventfd", 39_000, 14_700, conserved=False),
        phase(Bus.MMIO, "own eventfds", 6_000_000, 5_500_000),
    )
    machine = {
        **MACHINE,
        "host_cpus": 2,
        "consumer": "epoll",
        "reader": "epoll",
        "pinning": "vCPU threads on one CPU, the reader on another",
    }
    return VcpuBenchReport(machine=machine, results=results)
