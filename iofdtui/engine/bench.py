"""`iofdtui bench`: the doorbell comparison, measured on this machine.

Each path is its own phase: the guest rings only that doorbell, with only
that registration in place, so rings/s is the path's own throughput and the
latency is the guest-measured cost of its rings, net of the timer overhead
measured in the same phase.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from iofdtui.engine.kernel_counters import KernelCounters
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import Latency

PIO_PORT = 0x03F8
MMIO_ADDR = 0xFE00_0000
RING_VALUE = 0x5A
WARMUP_S = 0.2


@dataclass(frozen=True, slots=True)
class Phase:
    """One measured path: which doorbell, which registration."""

    bus: Bus
    width: int  # the registration's len (0 = any length)
    write_width: int  # the guest's write
    path: str  # "ioeventfd" | "userspace" | "datamatch-miss"


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """What one phase measured."""

    phase: Phase
    rings: int
    seconds: float
    latency: Latency
    conserved: bool
    signals: int
    exits: int
    kernel: KernelCounters | None = None

    @property
    def rings_per_s(self) -> float:
        """Guest rings per second over the phase."""
        return self.rings / self.seconds if self.seconds else 0.0

    def as_json(self) -> dict[str, object]:
        """The documented JSON row (see README)."""
        lat = self.latency
        return {
            "bus": self.phase.bus.value,
            "width": self.phase.width,
            "write_width": self.phase.write_width,
            "path": self.phase.path,
            "rings": self.rings,
            "seconds": round(self.seconds, 6),
            "rings_per_s": round(self.rings_per_s, 1),
            "latency_ns": {"p50": lat.p50_ns, "p99": lat.p99_ns, "mean": lat.mean_ns},
            "samples": lat.samples,
            "signals": self.signals,
            "userspace_exits": self.exits,
            "conserved": self.conserved,
            "kernel": None if self.kernel is None else kernel_json(self.kernel),
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


def _doorbell(phase: Phase) -> int:
    return PIO_PORT if phase.bus is Bus.PIO else MMIO_ADDR


def _registration(phase: Phase) -> RegistrationSpec | None:
    addr = _doorbell(phase)
    if phase.path == "userspace":
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
        lab.set_plan([slot])
        spec = _registration(phase)
        if spec is not None:
            lab.add_registration(spec)
        lab.reset_counters()
    time.sleep(WARMUP_S)
    start = lab.snapshot()
    time.sleep(seconds)
    end = lab.snapshot()
    lab.pause()  # takes the checkpoint: exact counts, kernel deltas
    checkpoint = lab.checkpoint()
    lab.resume()
    snap = lab.snapshot()
    if phase.path == "ioeventfd" and snap.registrations:
        latency = snap.registrations[0].latency
    else:
        latency = snap.slots[0].latency
    door = checkpoint.doorbells[0] if checkpoint.doorbells else None
    return PhaseResult(
        phase=phase,
        rings=end.total_rings - start.total_rings,
        seconds=end.taken_at - start.taken_at,
        latency=latency,
        conserved=checkpoint.holds,
        signals=door.signals if door else 0,
        exits=door.exits if door else 0,
        kernel=checkpoint.kernel,
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
    by_key = {(r.phase.bus, r.phase.width, r.phase.path): r for r in results}
    out = []
    for r in results:
        if r.phase.path != "ioeventfd" or r.phase.width == 0:
            continue
        user = by_key.get((r.phase.bus, r.phase.width, "userspace"))
        if user is None:
            continue
        row: dict[str, object] = {"bus": r.phase.bus.value, "width": r.phase.width}
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
    consumer: str = "epoll",
    progress: Callable[[Phase], None] | None = None,
) -> BenchReport:
    """Run every phase on one lab; raises KvmUnavailable when there is no KVM."""
    with Lab() as lab:
        lab.set_consumer(consumer)
        lab.start()
        results = []
        for phase in phases(lab.any_length):
            if progress:
                progress(phase)
            results.append(run_phase(lab, phase, seconds))
        overhead = lab.timer_overhead_cycles()
        m = lab.machine
        machine = {
            "kernel": m.kernel,
            "kvm_module": m.kvm_module,
            "tsc_khz": m.tsc_khz,
            "emulated": m.emulated,
            "emulation_note": m.emulation_note,
            "timer_overhead_ns": (
                overhead * 1e6 / m.tsc_khz if overhead is not None and m.tsc_khz else None
            ),
            "consumer": consumer,
            "capabilities": list(m.capabilities),
            "latency_note": "guest-measured ring cost, net of timer overhead",
        }
        return BenchReport(machine=machine, results=tuple(results))


def format_ns(value: float | None) -> str:
    """Nanoseconds for the bench tables: `1,381`, or a dash when there is no figure."""
    return "—" if value is None else f"{value:,.0f}"


def render(report: BenchReport) -> object:
    """A rich renderable: the header and the comparison table."""
    from rich import box
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    m = report.machine
    head = Text()
    head.append(f"kernel {m['kernel']}   /dev/kvm: {m['kvm_module']}   ")
    head.append(f"TSC {m['tsc_khz']:,} kHz   consumer: {m['consumer']}\n")
    head.append(f"{m['emulation_note']}\n", style="bold yellow" if m["emulated"] else "")
    overhead = m["timer_overhead_ns"]
    head.append(
        "latency = guest-measured ring cost (rdtsc around the write), net of "
        f"{format_ns(overhead if isinstance(overhead, float) else None)} ns timer overhead "
        "measured in the same run\n"
    )
    table = Table(title="Doorbell rings, by path", title_justify="left", box=box.SIMPLE_HEAD)
    columns = ("bus", "len", "path", "rings/s", "p50 ns", "p99 ns", "mean ns", "rings", "exact")
    for col in (*columns, "kernel", "insn/ring"):
        table.add_column(col, justify="left" if col in ("bus", "path") else "right", no_wrap=True)
    for r in report.results:
        lat = r.latency
        width = "any" if r.phase.width == 0 else str(r.phase.width)
        table.add_row(
            r.phase.bus.value,
            width,
            r.phase.path,
            f"{r.rings_per_s:,.0f}",
            format_ns(lat.p50_ns),
            format_ns(lat.p99_ns),
            format_ns(lat.mean_ns),
            f"{r.rings:,}",
            "✓" if r.conserved else "✗",
            "—" if r.kernel is None else ("✓" if r.kernel.all_hold else "✗"),
            "—"
            if r.kernel is None or r.kernel.insn_per_ring is None
            else f"{r.kernel.insn_per_ring:.2f}",
        )
    comp = Table(
        title="ioeventfd vs userspace exit, same run", title_justify="left", box=box.SIMPLE_HEAD
    )
    for col in ("bus", "len", "×faster p50", "saved/ring ns", "wall saved ns", "agreement"):
        comp.add_column(col, justify="right")
    for row in comparisons(report.results):
        ratio, saved, wall, agree = (
            row["ratio_p50"],
            row["saved_ns"],
            row["wall_saved_ns"],
            row["agreement"],
        )
        comp.add_row(
            str(row["bus"]),
            str(row["width"]),
            f"{ratio:.1f}×" if isinstance(ratio, float) else "—",
            format_ns(saved if isinstance(saved, float) else None),
            format_ns(wall if isinstance(wall, float) else None),
            f"{agree:.2f}" if isinstance(agree, float) else "—",
        )
    note = Text(
        "exact: rings = signals + userspace exits at a quiescent pause. kernel: the vCPU's "
        "binary stats (mmio_exits, io_exits, halt_exits) agree with our counts over the phase "
        "as this KVM flavour says they must. insn/ring: the kernel's insn_emulation per ring.\n",
        style="dim",
    )
    note.append(
        "saved/ring: userspace mean − ioeventfd mean (latency); wall saved: difference in "
        "wall time per ring between the two throughput phases; agreement = their ratio.",
        style="dim",
    )
    if m["consumer"] == "epoll":
        note.append(
            "\nconsumer epoll: a timed ring follows the timer's own gap, so it finds the "
            "consumer asleep (and pays its wake-up inside the write) more often than a ring "
            "in a stream does; --consumer poll removes that difference.",
            style="dim",
        )
    return Group(head, table, comp, note)
