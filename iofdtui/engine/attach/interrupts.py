"""Interrupts injected into an attached VM, per vector and per GSI, from KVM's tracepoints.

Counted in C as the events are decoded (tally.c, counters.c):
- `kvm_msi_set_irq`: an MSI sent (`KVM_SIGNAL_MSI`, or an irqfd on an MSI route);
- `kvm_apic_accept_irq`: a local APIC took a vector (any source: MSI, IOAPIC pin, IPI);
- `kvm_eoi`: the guest's end-of-interrupt for a vector (its handler ran);
- `kvm_set_irq`: a GSI raised or lowered (`KVM_IRQ_LINE`, an irqfd on a pin route, its
  resampler lowering the line at the guest's EOI).

The events are recorded only when they fire in one of the traced process's
threads (the instance's `set_event_pid`): an injection the kernel defers to
a kworker, or a LAPIC timer that fires over another task, is not seen.  On
kvm_pvm here an irqfd on a pin route raises its GSI from a kworker (not
seen), and its resampler lowers it from the vCPU thread at each EOI (seen):
a pin route shows lowerings without raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

IRQ_KINDS = ("msi", "accepted", "eoi", "gsi", "gsi_low")
"""enum IRQ_* in tally.h, in order: kvm_msi_set_irq, kvm_apic_accept_irq and
kvm_eoi per vector; kvm_set_irq per GSI, raised (level 1) and lowered (0)."""

IRQ_EVENTS = ("kvm_msi_set_irq", "kvm_set_irq", "kvm_apic_accept_irq", "kvm_eoi")
"""Enabled where the kernel has them (each is optional)."""


@dataclass(frozen=True, slots=True)
class IrqCount:
    """Interrupts of one kind at one vector (or GSI), as the C tally gives them (IRQ_KINDS)."""

    kind: str
    key: int
    count: int


@dataclass(frozen=True, slots=True)
class VectorCounts:
    """One vector's interrupts.

    Attributes:
        vector: the vector (0-255).
        msi: MSIs sent with it (kvm_msi_set_irq).
        accepted: times a local APIC accepted it (kvm_apic_accept_irq).
        eoi: the guest's EOIs of it (kvm_eoi).
    """

    vector: int
    msi: int
    accepted: int
    eoi: int


@dataclass(frozen=True, slots=True)
class GsiCounts:
    """One GSI's kvm_set_irq events: raised (level 1) and lowered (level 0)."""

    gsi: int
    raised: int
    lowered: int


@dataclass(frozen=True, slots=True)
class Interrupts:
    """Every interrupt traced, per vector and per GSI.

    Attributes:
        events: the interrupt events this kernel has and the instance enabled.
        vectors: per vector, by vector.
        gsis: per GSI, by GSI.
    """

    events: tuple[str, ...]
    vectors: tuple[VectorCounts, ...]
    gsis: tuple[GsiCounts, ...]

    @property
    def total_accepted(self) -> int:
        """Vectors accepted by a local APIC, all vectors."""
        return sum(v.accepted for v in self.vectors)


def interrupts(counts: Iterable[IrqCount], events: Iterable[str]) -> Interrupts:
    """Fold the tally's per-(kind, key) counts into per-vector and per-GSI rows."""
    by_vector: dict[int, dict[str, int]] = {}
    by_gsi: dict[int, dict[str, int]] = {}
    for c in counts:
        table = by_gsi if c.kind.startswith("gsi") else by_vector
        table.setdefault(c.key, {})[c.kind] = c.count
    vectors = tuple(
        VectorCounts(v, k.get("msi", 0), k.get("accepted", 0), k.get("eoi", 0))
        for v, k in sorted(by_vector.items())
    )
    gsis = tuple(
        GsiCounts(g, k.get("gsi", 0), k.get("gsi_low", 0)) for g, k in sorted(by_gsi.items())
    )
    return Interrupts(tuple(events), vectors, gsis)
