"""One ring plan on every vCPU, with completions: who rings what.

The app's two-vCPU lab rings one plan on both vCPUs, but a registration with a
completion needs one kicker (one kick in flight, and an eventfd cannot say
which vCPU rang it).  So each vCPU rings the plan minus the slots whose
registration has a completion another vCPU kicks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from iofdtui.engine.model import SlotSpec
from iofdtui.engine.registrations import Registration
from iofdtui.engine.ring_plan import RingPlan


def split_plan(
    plan: Sequence[SlotSpec],
    regs: Mapping[int, Registration],
    kickers: Mapping[int, int],
    vcpus: int,
) -> list[list[SlotSpec]]:
    """Each vCPU's share of `plan`: every slot, except that a slot served by a
    registration in `kickers` (registration id → the vCPU that kicks it) is rung
    by that vCPU alone."""
    shares: list[list[SlotSpec]] = []
    for vcpu in range(vcpus):
        share = []
        for slot in plan:
            serving = RingPlan.serving(slot, regs)
            if serving is None or kickers.get(serving, vcpu) == vcpu:
                share.append(slot)
        shares.append(share)
    return shares
