"""`iofdtui bench --vcpus 2` as a table: each vCPU's rings and ring cost, against one vCPU."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.experiments.vcpus import MODES, VcpuBenchReport, VcpuPhaseResult, VcpuShare
from iofdtui.reports import format as fmt
from iofdtui.reports.blocks import machine_header, titled_table

COLUMNS = (
    "bus",
    "mode",
    "vCPU",
    "rings/s",
    "× rate",
    "p50 ns",
    "p99 ns",
    "mean ns",
    "× mean",
    "total rings/s",
    "CPU busy",
    "exact",
    "kernel",
)

FIGURES_NOTE = (
    "per vCPU: rings/s and guest-measured ring cost (rdtsc around each visit's writes, per "
    "ring), net of the "
    "timer overhead measured in the same phase; × = against the 1-vCPU phase of the same run\n"
)


def _row(
    r: VcpuPhaseResult, share: VcpuShare, ref: VcpuShare | None, first: bool
) -> tuple[str, ...]:
    """One vCPU's row; the phase's own figures only on its first vCPU's."""
    lat = share.latency
    phase = (
        fmt.whole(r.rings_per_s),
        fmt.fixed(r.cpu_busy),
        fmt.tick(r.conserved),
        fmt.tick(None if r.kernel is None else r.kernel.all_hold),
    )
    return (
        r.bus.value if first else "",
        r.mode if first else "",
        str(share.vcpu),
        fmt.whole(share.rings_per_s),
        fmt.times(share.rings_per_s, ref.rings_per_s if ref else None),
        fmt.whole(lat.p50_ns),
        fmt.whole(lat.p99_ns),
        fmt.whole(lat.mean_ns),
        fmt.times(lat.mean_ns, ref.latency.mean_ns if ref else None),
        *(phase if first else ("",) * len(phase)),
    )


def render(report: VcpuBenchReport) -> Group:
    """The header, one row per vCPU per phase, and the notes."""
    m = report.machine
    head = machine_header(m, f"host CPUs: {m['host_cpus']}", f"reader: {m['reader']}")
    head.append(FIGURES_NOTE)
    table = titled_table("Two vCPUs ringing at once", COLUMNS, ("bus", "mode"), no_wrap=True)
    refs = {r.bus: r.shares[0] for r in report.results if r.mode == MODES[0]}
    for r in report.results:
        for i, share in enumerate(r.shares):
            table.add_row(*_row(r, share, refs.get(r.bus), first=i == 0))
    note = Text(
        "exact: at the closing pause every doorbell balanced (rings = signals + userspace "
        "exits), each eventfd's signals equalled the rings of both vCPUs' slots routed to it, "
        "and no ring exited. kernel: both vCPUs' binary stats, summed, agree with our counts. "
        "CPU busy: this process's CPU seconds per second (vCPU threads + eventfd reader); "
        f"the host has {m['host_cpus']} CPUs, shared with other tenants.",
        style="dim",
    )
    return Group(head, table, note)
