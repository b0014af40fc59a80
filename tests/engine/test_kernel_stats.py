"""The kernel's binary stats, parsed from the live kernel, and the relations
between its exit counters and iofdtui's own counts."""

from __future__ import annotations

import random
import time

import pytest

from iofdtui.engine.kvm_stats import StatsReader
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.native import lib

pytestmark = pytest.mark.kvm


def _readers(lab) -> list[StatsReader]:
    """A reader on each vCPU's stats fd: the fds the engine's kernel counters read."""
    fds = [lib.lab_vcpu_stats_fd(lab._lab, k) for k in range(lab.vcpus)]
    if any(fd < 0 for fd in fds):
        pytest.skip("this kernel has no KVM_CAP_BINARY_STATS_FD")
    return [StatsReader(fd) for fd in fds]


def test_every_descriptor_parses_and_cumulative_stats_only_grow(lab) -> None:
    readers = _readers(lab)
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 2), SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 1, 2)])
    before = [r.read() for r in readers]
    lab.start()
    time.sleep(0.2)
    lab.pause()
    after = [r.read() for r in readers]
    for reader, old, new in zip(readers, before, after, strict=True):
        assert reader.num_desc == len(reader.descriptors) > 0
        names = [d.name for d in reader.descriptors]
        assert len(set(names)) == len(names)
        assert set(new) == set(names)
        for d in reader.descriptors:
            assert len(new[d.name]) == d.size if d.size > 1 else isinstance(new[d.name], int)
            if d.kind == "cumulative" and d.size == 1:
                assert new[d.name] >= old[d.name], d.name
    vcpu_after = after[0]
    assert vcpu_after["mmio_exits"] > before[0]["mmio_exits"]


def test_kernel_relations_hold_after_random_ring_plans(lab) -> None:
    _readers(lab)
    rng = random.Random(7)
    doorbells = [(Bus.PIO, 0x3F8), (Bus.PIO, 0x600), (Bus.MMIO, 0xFE00_0000)]
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.add_registration(RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 1))
    lab.start()
    lab.checkpoint()
    checked = 0
    for _ in range(12):
        plan = {}
        for _ in range(3):
            bus, addr = rng.choice(doorbells)
            width = rng.choice((1, 4))
            slot = SlotSpec(bus, addr, width, rng.choice((1, 2)), rng.choice((0, 1, 3)))
            plan[(bus, addr, width, slot.value)] = slot
        lab.set_plan(list(plan.values()))
        time.sleep(0.05)
        kernel = lab.checkpoint().kernel
        assert kernel is not None
        assert kernel.relations, "no relation applies on this flavour"
        for rel in kernel.relations:
            assert rel.holds, rel
        checked += 1
        if "kvm_pvm" in lab.machine.kvm_module and kernel.ours.rings:
            assert kernel.insn_per_ring is not None and kernel.insn_per_ring >= 1.0
    assert checked == 12
