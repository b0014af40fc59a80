"""`iofdtui bench --scale` as tables: ring cost against decoys, and against trigger values."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.experiments.scale import ScalePoint, ScaleReport
from iofdtui.reports import format as fmt
from iofdtui.reports.blocks import titled_table

WALK_SERIES = ("hit-first", "hit-last", "miss")
"""The trigger-value series, in column order."""

BUS_NOTE = (
    "kvm_io_bus_write: binary search over the sorted bus, then a walk over the entries at "
    "that address until one accepts the write."
)


def _decoy_row(p: ScalePoint) -> tuple[str, ...]:
    lat = p.latency
    return (
        fmt.whole(p.n),
        fmt.whole(lat.p50_ns),
        fmt.whole(lat.p99_ns),
        fmt.whole(lat.mean_ns),
        fmt.whole(p.rings),
        fmt.tick(p.exact),
    )


def _walk_cell(p: ScalePoint | None) -> str:
    """p50 / mean ns of one point, or a dash for one not measured."""
    if p is None:
        return fmt.DASH
    return f"{fmt.whole(p.latency.p50_ns)} / {fmt.whole(p.latency.mean_ns)}"


def render(report: ScaleReport) -> Group:
    """The decoy table, the trigger-value table and the notes (a run cut short says why)."""
    decoys = titled_table(
        f"{report.bus.value.upper()} ring cost vs decoy registrations elsewhere on the bus",
        ("decoys", "p50 ns", "p99 ns", "mean ns", "rings", "exact"),
    )
    for p in report.points:
        if p.series == "decoys":
            decoys.add_row(*_decoy_row(p))
    walk = titled_table(
        "ring cost vs trigger values at the same doorbell (p50 / mean ns)",
        ("k", "hit first-registered", "hit last-registered", "miss (exits)"),
    )
    by_point: dict[tuple[str, int], ScalePoint] = {}
    for p in report.points:
        if p.series != "decoys":
            by_point.setdefault((p.series, p.n), p)
    for k in sorted({n for _, n in by_point}):
        walk.add_row(str(k), *(_walk_cell(by_point.get((s, k))) for s in WALK_SERIES))
    note = Text(BUS_NOTE, style="dim")
    for line in report.notes:
        note.append(f"\n{line}", style="yellow")
    return Group(decoys, walk, note)
