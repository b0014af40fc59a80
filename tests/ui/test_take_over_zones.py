"""`v` (take_over) carries the coalesced zones to the new VM, and who drains their ring."""

from __future__ import annotations

import pytest

from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.ui.engine_calls import take_over

pytestmark = pytest.mark.kvm


@pytest.mark.parametrize("drain", ["exits", "thread"])
def test_the_new_vm_has_the_zones_and_their_drain(drain: str) -> None:
    from iofdtui.engine.lab import Lab

    old = Lab()
    old.set_plan([SlotSpec(Bus.PIO, 0x600, 1, 0x0, 2)])
    old.add_zone(Bus.PIO, 0x600, 8)
    old.set_ring_drain(drain)
    old.start()
    with Lab(vcpus=2) as new:
        take_over(new, old)
        assert [(z.bus, z.addr, z.size) for z in new.zones().values()] == [(Bus.PIO, 0x600, 8)]
        assert new.ring_drain == drain
