"""`iofdtui bench` as tables: the paths, ring cost against throughput, and the comparison."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.experiments.bench import BenchReport, PhaseResult, comparisons
from iofdtui.reports import format as fmt
from iofdtui.reports.bench_coalesced import render_coalesced
from iofdtui.reports.blocks import machine_header, titled_table

NAMES = ("reader", "bus", "path")
"""Columns that hold names (left-aligned); the others hold figures."""

PATH_COLUMNS = (
    "reader",
    "bus",
    "len",
    "path",
    "rings/s",
    "p50 ns",
    "p99 ns",
    "mean ns",
    "rings",
    "exact",
    "kernel",
    "insn/ring",
)
WHY_COLUMNS = (
    "reader",
    "bus",
    "len",
    "path",
    "mean ns",
    "wall ns/ring",
    "loop ns/ring",
    "agreement",
    "wake-ups/1k sig",
    "preempted/1k rings",
    "run-queue ns/ring",
)
COMPARISON_COLUMNS = (
    "reader",
    "bus",
    "len",
    "×faster p50",
    "saved/ring ns",
    "wall saved ns",
    "agreement",
)

COUNTS_NOTE = (
    "rings: from reset to the closing pause (rings/s is over the timed window inside it). "
    "exact: rings = signals + userspace exits at that quiescent pause. kernel: the vCPU's "
    "binary stats (mmio_exits, io_exits, halt_exits) agree with our counts over the phase "
    "as this KVM flavour says they must. insn/ring: the kernel's insn_emulation per ring.\n"
)
COSTS_NOTE = (
    "agreement (per path): guest mean ÷ (wall time per ring − the guest's time between "
    "visits). wake-ups/1k sig: the reader's returns from epoll_wait per 1,000 signals. "
    "preempted/1k rings: the vCPU thread's involuntary context switches; run-queue: its "
    "wait for a CPU (/proc/self/task/TID). saved/ring: userspace mean − ioeventfd mean; "
    "wall saved: the same from the two phases' throughput; agreement = their ratio."
)


def _float(value: object) -> float | None:
    """A comparison's figure (a JSON row holds floats or None)."""
    return value if isinstance(value, float) else None


def _header(report: BenchReport) -> Text:
    m = report.machine
    readers = ", ".join(str(r) for r in m["readers"])  # type: ignore[attr-defined]
    head = machine_header(m, f"reader: {readers}")
    head.append(
        "latency = guest-measured cost per ring: one sample is one visit (rdtsc around all its "
        "back-to-back rings, divided by their number), net of "
        f"{fmt.whole(_float(m['timer_overhead_ns']))} ns timer overhead "
        "measured in the same run\n"
    )
    return head


def _path_row(r: PhaseResult) -> tuple[str, ...]:
    lat, kernel = r.latency, r.kernel
    return (
        r.reader,
        r.phase.bus.value,
        fmt.length(r.phase.width),
        r.phase.path,
        fmt.whole(r.rings_per_s),
        fmt.whole(lat.p50_ns),
        fmt.whole(lat.p99_ns),
        fmt.whole(lat.mean_ns),
        fmt.whole(r.counted),
        fmt.tick(r.conserved),
        fmt.tick(None if kernel is None else kernel.all_hold),
        fmt.fixed(None if kernel is None else kernel.insn_per_ring),
    )


def _why_row(r: PhaseResult) -> tuple[str, ...]:
    why = r.why
    wake = why.wakeups_per_1k_signals if why and r.phase.path == "ioeventfd" else None
    return (
        r.reader,
        r.phase.bus.value,
        fmt.length(r.phase.width),
        r.phase.path,
        fmt.whole(r.latency.mean_ns),
        fmt.whole(r.wall_ns),
        fmt.whole(r.loop_ns),
        fmt.fixed(r.agreement),
        fmt.fixed(wake, 1),
        fmt.fixed(why.preemptions_per_1k_rings if why else None, 1),
        fmt.whole(why.runqueue_ns_per_ring if why else None),
    )


def _comparison_row(row: dict[str, object]) -> tuple[str, ...]:
    return (
        str(row["reader"]),
        str(row["bus"]),
        str(row["width"]),
        fmt.ratio(_float(row["ratio_p50"])),
        fmt.whole(_float(row["saved_ns"])),
        fmt.whole(_float(row["wall_saved_ns"])),
        fmt.fixed(_float(row["agreement"])),
    )


def render(report: BenchReport) -> Group:
    """The header, the paths, the agreement check, the comparison and the notes."""
    paths = titled_table("Doorbell rings, by path", PATH_COLUMNS, NAMES, no_wrap=True)
    why = titled_table(
        "Ring cost against throughput, and why it costs that (same phases)",
        WHY_COLUMNS,
        NAMES,
        no_wrap=True,
    )
    for r in report.results:
        if r.phase.path == "coalesced":
            continue  # the coalesced tables show these
        paths.add_row(*_path_row(r))
        why.add_row(*_why_row(r))
    comparison = titled_table(
        "ioeventfd vs userspace exit, same run", COMPARISON_COLUMNS, ("reader", "bus")
    )
    for row in comparisons(report.results):
        comparison.add_row(*_comparison_row(row))
    note = Text(COUNTS_NOTE, style="dim")
    note.append(COSTS_NOTE, style="dim")
    coalesced = render_coalesced(report.results)
    if coalesced is None:
        return Group(_header(report), paths, why, comparison, note)
    return Group(_header(report), paths, why, comparison, note, coalesced)
