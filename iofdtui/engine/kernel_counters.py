"""The kernel's own exit counters beside iofdtui's, and the relations that
must hold between them on this KVM flavour.

Both sides are read at the same quiescent points (checkpoints: the guest is
parked, every eventfd drained), so each relation is exact or it is broken.
Which relations hold depends on who serves /dev/kvm (NOTES.md §7):

- VMX/SVM (arch/x86/kvm/vmx/vmx.c handle_io, svm.c io_interception): every
  PIO intercept bumps `io_exits`, ioeventfd-served ones included, so
  io_exits = PIO signals + PIO userspace exits + iofdtui's own control OUTs.
- kvm_pvm: guest instructions are emulated and PIO never passes through an
  intercept, so `io_exits` stays 0.
- Everywhere: `mmio_exits` = MMIO userspace exits; `halt_exits` = the
  `hlt`s the guest counts while it waits for its completions' interrupts
  (without completions it never halts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # Only a type here: the snapshot types import this module without the native engine.
    from iofdtui.engine.kvm_stats import StatsReader


WATCHED = ("exits", "io_exits", "mmio_exits", "halt_exits", "signal_exits", "insn_emulation")


@dataclass(frozen=True, slots=True)
class OurCounts:
    """iofdtui's cumulative counts at one checkpoint."""

    rings: int
    pio_signals: int
    pio_exits: int
    mmio_signals: int
    mmio_exits: int
    control_outs: int
    halts: int = 0  # the guest's own count of its `hlt`s (u32, wraps): completion waits


@dataclass(frozen=True, slots=True)
class Relation:
    """One relation between a kernel counter and iofdtui's counts, over an interval."""

    stat: str
    formula: str
    kernel: int
    ours: int

    @property
    def holds(self) -> bool:
        """Both sides are equal."""
        return self.kernel == self.ours


@dataclass(frozen=True, slots=True)
class KernelCounters:
    """Kernel stat deltas beside ours, between two checkpoints."""

    deltas: dict[str, int]
    ours: OurCounts  # deltas of our counts over the same interval
    relations: tuple[Relation, ...]

    @property
    def insn_per_ring(self) -> float | None:
        """Emulated guest instructions per ring (about the loop's length when emulated)."""
        insn = self.deltas.get("insn_emulation")
        if insn is None or self.ours.rings == 0:
            return None
        return insn / self.ours.rings

    @property
    def all_hold(self) -> bool:
        """No relation is broken."""
        return all(r.holds for r in self.relations)


@dataclass(frozen=True, slots=True)
class KernelSample:
    """Kernel stats and our counts read at the same checkpoint."""

    stats: dict[str, int]
    ours: OurCounts


def read_sample(reader: StatsReader | Sequence[StatsReader], ours: OurCounts) -> KernelSample:
    """The watched vCPU statistics (those this kernel has) with our counts.

    With several vCPUs, each stat is the sum over every vCPU's stats fd: our
    counts are the VM's, and a ring is counted by the vCPU that made it.
    """
    readers = list(reader) if isinstance(reader, Sequence) else [reader]
    stats: dict[str, int] = {}
    present = set(WATCHED)
    for one in readers:
        values = one.read()
        # A stat only some vCPUs report would make a meaningless sum: keep it out.
        present &= {name for name in WATCHED if isinstance(values.get(name), int)}
        for name in present:
            stats[name] = stats.get(name, 0) + int(values[name])
    return KernelSample({k: v for k, v in stats.items() if k in present}, ours)


def compare(before: KernelSample, after: KernelSample, kvm_module: str) -> KernelCounters:
    """The relations that apply on `kvm_module`, over the interval between samples."""
    deltas = {k: after.stats[k] - before.stats[k] for k in after.stats if k in before.stats}
    a, b = after.ours, before.ours
    ours = OurCounts(
        rings=a.rings - b.rings,
        pio_signals=a.pio_signals - b.pio_signals,
        pio_exits=a.pio_exits - b.pio_exits,
        mmio_signals=a.mmio_signals - b.mmio_signals,
        mmio_exits=a.mmio_exits - b.mmio_exits,
        control_outs=a.control_outs - b.control_outs,
        halts=(a.halts - b.halts) % (1 << 32),
    )
    relations = []
    if "mmio_exits" in deltas:
        relations.append(
            Relation("mmio_exits", "MMIO userspace exits", deltas["mmio_exits"], ours.mmio_exits)
        )
    if "io_exits" in deltas:
        if "kvm_pvm" in kvm_module:
            relations.append(Relation("io_exits", "none: PVM emulates PIO", deltas["io_exits"], 0))
        elif "kvm_intel" in kvm_module or "kvm_amd" in kvm_module:
            relations.append(
                Relation(
                    "io_exits",
                    "PIO signals + PIO exits + pause OUTs",
                    deltas["io_exits"],
                    ours.pio_signals + ours.pio_exits + ours.control_outs,
                )
            )
    if "halt_exits" in deltas:
        halts = deltas["halt_exits"]
        formula = (
            "the guest's hlts, waiting for completions"
            if ours.halts
            else "none: the guest never halts"
        )
        relations.append(Relation("halt_exits", formula, halts, ours.halts))
    return KernelCounters(deltas=deltas, ours=ours, relations=tuple(relations))
