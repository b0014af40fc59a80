"""Completions on the two-vCPU lab the app runs: one plan shared by both vCPUs
(`Lab.share_plan`), each completion kicked by one vCPU and taken by either, on
real ioctls.  Exact accounting at every checkpoint through random churn."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

pytestmark = pytest.mark.kvm

PORTS = (0x600, 0x601, 0x602, 0x603)
PLAN = [
    *(SlotSpec(Bus.PIO, port, 1, 0x1, 2) for port in PORTS),
    SlotSpec(Bus.MMIO, 0xFE000000, 4, 0x1, 4),
    SlotSpec(Bus.PIO, 0x700, 1, 0x1, 2),  # never registered: exits on both vCPUs
]


@pytest.fixture
def shared() -> Iterator[object]:
    """Two vCPUs with an in-kernel irqchip ringing one shared plan, not yet started."""
    from tests.conftest import need_kvm

    need_kvm()
    from iofdtui.engine.lab import Lab

    with Lab(vcpus=2, completions=True) as lab:
        lab.share_plan(PLAN)
        yield lab


def _check(lab, wanted: dict[int, tuple[int, int]], where: object) -> None:
    """At a pause: the checkpoint holds, every completion balances exactly, its
    kicker is the one asked for, and its handler ran on its target alone."""
    checkpoint = lab.checkpoint()
    assert checkpoint.holds, (where, checkpoint)
    got = dict(checkpoint.completions)
    assert set(got) == set(wanted), where
    for reg_id, (kicker, target) in wanted.items():
        c = got[reg_id]
        assert c.exact and c.kicks == c.irqfd_writes == c.handler_runs, (where, c)
        assert (c.kicker, c.vcpu) == (kicker, target), (where, c)
        assert c.runs_on[target] == c.handler_runs == sum(c.runs_on), (where, c)
        assert c.write_errors == c.merged == 0, (where, c)
    for door in checkpoint.doorbells:
        assert sum(v.rings for v in door.per_vcpu) == door.rings, (where, door)


def test_both_vcpus_kick_completions_through_random_churn(shared) -> None:
    lab = shared
    rng = random.Random(20)
    regs: dict[int, int] = {}  # registration id → its port
    wanted: dict[int, tuple[int, int]] = {}  # registration id → (kicker, target)
    # One completion kicked from each vCPU, one crossing CPUs, from the start.
    for port, (kicker, target) in zip(PORTS[:2], ((0, 1), (1, 1)), strict=True):
        reg_id = lab.add_registration(RegistrationSpec(Bus.PIO, port, 1))
        lab.share_plan(PLAN)
        lab.set_completion(reg_id, rng.choice(("msi", "pin")), target, kicker=kicker)
        regs[reg_id], wanted[reg_id] = port, (kicker, target)
    lab.start()
    kicked = {0: 0, 1: 0}
    for step in range(10):
        time.sleep(0.15)
        assert lab.pause(), f"step {step}: both vCPUs parked"
        _check(lab, wanted, step)
        for reg_id, (kicker, _target) in wanted.items():
            kicked[kicker] += lab.completion(reg_id).kicks
        free = [p for p in PORTS if p not in regs.values()]
        action = rng.choice(["add", "add", "remove", "drop"] if free else ["remove", "drop"])
        if action == "add" or not regs:
            reg_id = lab.add_registration(RegistrationSpec(Bus.PIO, free[0], 1))
            lab.share_plan(PLAN)
            kicker, target = rng.randrange(2), rng.randrange(2)
            lab.set_completion(reg_id, rng.choice(("msi", "pin")), target, kicker=kicker)
            regs[reg_id], wanted[reg_id] = free[0], (kicker, target)
        elif action == "remove":
            reg_id = rng.choice(sorted(regs))
            final = lab.remove_registration(reg_id)
            lab.share_plan(PLAN)  # its slots ring on both vCPUs again
            if reg_id in wanted:
                assert final.completion is not None and final.completion.exact, final
            del regs[reg_id]
            wanted.pop(reg_id, None)
        else:  # take a completion away: its doorbell rings as a stream on both again
            reg_id = rng.choice(sorted(regs))
            lab.set_completion(reg_id, None)
            wanted.pop(reg_id, None)
        live = {r for r in regs if lab.completion(r) is not None}
        assert live == set(wanted), (step, action)
        lab.resume()
    assert lab.pause()
    _check(lab, wanted, "end")
    assert kicked[0] > 0 and kicked[1] > 0, kicked  # both vCPUs kicked completions


def test_a_completions_doorbell_rings_on_its_kicker_alone(shared) -> None:
    lab = shared
    reg_id = lab.add_registration(RegistrationSpec(Bus.PIO, 0x601, 1))
    plain = lab.add_registration(RegistrationSpec(Bus.PIO, 0x602, 1))
    lab.share_plan(PLAN)
    lab.set_completion(reg_id, "msi", 0, kicker=1)
    assert [s.addr for s in lab.plan(0)].count(0x601) == 0
    assert [s.addr for s in lab.plan(1)].count(0x601) == 1
    assert lab.shared_plan == PLAN
    lab.start()
    time.sleep(0.3)
    assert lab.pause()
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    door = next(d for d in checkpoint.doorbells if d.addr == 0x601)
    assert door.per_vcpu[0].rings == 0 and door.per_vcpu[1].rings > 0
    both = next(d for d in checkpoint.doorbells if d.addr == 0x602)
    assert all(v.rings > 0 for v in both.per_vcpu), "a plain doorbell rings on both"
    c = dict(checkpoint.completions)[reg_id]
    assert c.crosses and c.kicker == 1 and c.vcpu == 0 and c.runs_on[0] == c.handler_runs > 0
    # Taken away, it rings on both vCPUs again, and the other registration is untouched.
    lab.set_completion(reg_id, None)
    assert [s.addr for s in lab.plan(0)].count(0x601) == 1
    assert lab.completion(plain) is None


def test_resharing_an_unchanged_split_does_not_pause_the_guest(shared, monkeypatch) -> None:
    lab = shared
    plan = [SlotSpec(Bus.PIO, 0x600, 1, 0, 4), SlotSpec(Bus.PIO, 0x610, 1, 0, 4)]
    lab.share_plan(plan)
    lab.start()
    calls: list[object] = []
    set_plans = lab.set_plans
    monkeypatch.setattr(lab, "set_plans", lambda plans: (calls.append(plans), set_plans(plans)))
    reg = lab.add_registration(RegistrationSpec(Bus.PIO, 0x600, 1))
    lab.share_plan(plan)  # the app does this after every add: no kicker moved
    assert calls == []
    lab.set_completion(reg, "msi", 0, kicker=1)  # now vCPU 1 alone rings 0x600
    assert len(calls) == 1
    assert [s.addr for s in lab.plan(0)] == [0x610]
    assert lab.checkpoint().holds
