"""`iofdtui attach` as text, the kernel's side: interrupts injected and exit latency."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from iofdtui.engine.attach.exit_latency import ExitLatencies
from iofdtui.engine.attach.interrupts import Interrupts
from iofdtui.reports.blocks import titled_table
from iofdtui.reports.format import DASH, count, ns

IRQ_NOTE = (
    "msi: kvm_msi_set_irq · accepted: kvm_apic_accept_irq (a local APIC took the vector) · "
    "eoi: kvm_eoi · gsi: kvm_set_irq raised/lowered; only what fires in the process's threads"
)


def irq_rows(irqs: Interrupts) -> list[tuple[str, str, str, str, str]]:
    """(interrupt, msi, accepted, eoi, raised/lowered) per vector, then per GSI."""
    rows = [
        (f"vector {v.vector:#04x}", count(v.msi), count(v.accepted), count(v.eoi), DASH)
        for v in irqs.vectors
    ]
    rows += [
        (f"gsi {g.gsi}", DASH, DASH, DASH, f"{count(g.raised)}/{count(g.lowered)}")
        for g in irqs.gsis
    ]
    return rows


def latency_rows(lat: ExitLatencies) -> list[tuple[str, str, str, str, str]]:
    """(reason, exits, mean, min, max) per exit reason, most frequent first."""
    return [
        (
            f"{r.isa} {r.name}",
            count(r.count),
            ns(r.mean_ns) if r.count else DASH,
            ns(r.min_ns) if r.count else DASH,
            ns(r.max_ns) if r.count else DASH,
        )
        for r in lat.reasons
    ]


def kernel_report(irqs: Interrupts, lat: ExitLatencies) -> RenderableType:
    """The interrupts table (or a line saying none), then exit latency (or why n/a)."""
    parts: list[RenderableType] = []
    if irqs.vectors or irqs.gsis:
        table = titled_table(
            "Interrupts injected",
            ("interrupt", "msi", "accepted", "eoi", "gsi raised/lowered"),
            left=("interrupt",),
        )
        for row in irq_rows(irqs):
            table.add_row(*row)
        parts += [table, Text(IRQ_NOTE)]
    elif irqs.events:
        parts.append(Text(f"interrupts: none traced ({', '.join(irqs.events)})"))
    else:
        parts.append(Text("interrupts: n/a (this kernel has none of the interrupt tracepoints)"))
    if lat.unavailable is not None:
        parts.append(Text(f"exit latency: {lat.unavailable}"))
    else:
        table = titled_table(
            "Exit latency (kvm_exit → the thread's next kvm_entry)",
            ("exit reason", "exits", "mean", "min", "max"),
            left=("exit reason",),
        )
        for row in latency_rows(lat):
            table.add_row(*row)
        parts.append(table)
    return Group(*parts)
