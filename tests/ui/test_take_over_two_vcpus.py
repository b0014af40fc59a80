"""`v` (take_over) with completions between the one- and two-vCPU labs the app makes
(both with an in-kernel irqchip): a completion keeps its kicker and target."""

from __future__ import annotations

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.ui.engine_calls import add_registration, apply_plan, current_plan, take_over
from iofdtui.ui.messages import RegistrationAdded

pytestmark = pytest.mark.kvm

PLAN = [SlotSpec(Bus.PIO, 0x600, 1, 0x1, 2), SlotSpec(Bus.PIO, 0x3F8, 1, 0x1, 2)]


def test_two_vcpus_and_back_keep_the_completion_and_the_shared_plan() -> None:
    from iofdtui.engine.lab import Lab

    one = Lab(completions=True)
    apply_plan(one, PLAN)
    added = add_registration(one, RegistrationSpec(Bus.PIO, 0x600, 1), "pin")
    assert isinstance(added, RegistrationAdded)
    one.start()
    with Lab(vcpus=2, completions=True) as two:
        changed = take_over(two, one)
        assert changed.completions_dropped == ()
        reg_id = changed.renumbered[added.reg_id]
        stats = two.completion(reg_id)
        assert stats is not None and (stats.route, stats.kicker, stats.vcpu) == ("pin", 0, 0)
        assert current_plan(two) == PLAN
        assert [s.addr for s in two.plan(1)] == [0x3F8], "vCPU 0 alone kicks 0x600"
        # A crossing completion on the two-vCPU lab, then back to one vCPU.
        crossing = add_registration(two, RegistrationSpec(Bus.PIO, 0x3F8, 1), "msi", (1, 0))
        assert isinstance(crossing, RegistrationAdded) and crossing.vcpus == (1, 0)
        assert two.plan(0) == PLAN[:1] and two.plan(1) == PLAN[1:]
        with Lab(completions=True) as back:
            again = take_over(back, two)
            assert again.completions_dropped == ()
            moved = back.completion(again.renumbered[crossing.reg_id])
            assert moved is not None and (moved.kicker, moved.vcpu) == (0, 0)
            assert back.plan() == PLAN
            assert back.pause()
            assert back.checkpoint().holds
