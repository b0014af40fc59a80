"""`v` (take_over) carries completions to the new VM, or says which it dropped."""

from __future__ import annotations

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.ui.engine_calls import take_over
from iofdtui.ui.event_lines import outcome_lines

pytestmark = pytest.mark.kvm


def _old_lab():  # type: ignore[no-untyped-def]
    from iofdtui.engine.lab import Lab

    lab = Lab(completions=True)
    lab.set_plan([SlotSpec(Bus.PIO, 0x600, 1, 0x1, 2)])
    plain = lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    answered = lab.add_registration(RegistrationSpec(Bus.PIO, 0x600, 1))
    lab.set_completion(answered, "pin")
    lab.start()
    return lab, plain, answered


def test_two_vcpus_without_an_irqchip_drop_the_completion_and_say_so() -> None:
    from iofdtui.engine.lab import Lab

    old, plain, answered = _old_lab()
    with Lab(vcpus=2) as new:
        changed = take_over(new, old)
        assert changed.completions_dropped == (answered,)
        assert new.completion(changed.renumbered[answered]) is None
        assert new.completion(changed.renumbered[plain]) is None
        [_, warning] = outcome_lines(changed)
        assert warning == (
            f"completions of #{answered} dropped: completions need the lab's in-kernel "
            "irqchip: make the lab with Lab(completions=True) (the app's labs have one)",
            "warning",
        )


def test_a_vm_with_an_irqchip_takes_the_completion_over() -> None:
    from iofdtui.engine.lab import Lab

    old, plain, answered = _old_lab()
    with Lab(completions=True) as new:
        changed = take_over(new, old)
        assert changed.completions_dropped == ()
        stats = new.completion(changed.renumbered[answered])
        assert stats is not None and stats.route == "pin"
        assert new.completion(changed.renumbered[plain]) is None
        assert len(outcome_lines(changed)) == 1
