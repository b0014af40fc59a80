"""The attached VM's kernel-side tables: interrupts injected, and exit latency per reason."""

from __future__ import annotations

from typing import ClassVar

from iofdtui.engine.attach.exit_latency import ExitLatencies
from iofdtui.engine.attach.interrupts import Interrupts
from iofdtui.reports.attach_kernel import irq_rows, latency_rows
from iofdtui.ui.widgets.counts_table import CountsTable


class TracedIrqsTable(CountsTable):
    """Per vector: MSIs sent, accepted by a local APIC, EOIs; per GSI: raised/lowered."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("irq", "interrupt"),
        ("msi", "msi"),
        ("accepted", "accepted"),
        ("eoi", "eoi"),
        ("gsi", "gsi raised/lowered"),
    )
    LEFT: ClassVar[frozenset[str]] = frozenset({"irq"})

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: Interrupts | None = None

    def redraw(self) -> None:
        """Show the last counts again."""
        if self._last is not None:
            self.show(self._last)

    def show(self, irqs: Interrupts) -> None:
        """Show these interrupts; the subtitle says when there are none, or no events."""
        self._last = irqs
        self.set_rows({row[0]: row for row in irq_rows(irqs)})
        if not irqs.events:
            self.border_subtitle = "n/a: this kernel has no interrupt tracepoints"
        elif not (irqs.vectors or irqs.gsis):
            self.border_subtitle = "none traced yet"
        else:
            self.border_subtitle = "only what fires in the process's threads"


class ExitLatencyTable(CountsTable):
    """Per exit reason: exits timed from kvm_exit to re-entry, mean, min, max."""

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("reason", "exit reason"),
        ("exits", "exits"),
        ("mean", "mean"),
        ("min", "min"),
        ("max", "max"),
    )
    LEFT: ClassVar[frozenset[str]] = frozenset({"reason"})

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._last: ExitLatencies | None = None

    def redraw(self) -> None:
        """Show the last figures again."""
        if self._last is not None:
            self.show(self._last)

    def show(self, lat: ExitLatencies) -> None:
        """Show the latencies, or (as the subtitle) why there are none."""
        self._last = lat
        self.set_rows({row[0]: row for row in latency_rows(lat)})
        self.border_subtitle = lat.unavailable or ""
