"""Two vCPUs ringing at once: exact accounting per doorbell and per vCPU."""

from __future__ import annotations

import os
import random
import threading
import time

import pytest

from iofdtui.engine.errors import GuestFault, KvmUnavailable, RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.native import lib

pytestmark = pytest.mark.kvm

DOORBELLS = [(Bus.PIO, 0x3F8), (Bus.PIO, 0x600), (Bus.MMIO, 0xFE00_0000), (Bus.MMIO, 0xFE0F_F000)]
PIO, PORT2, MMIO = 0x3F8, 0x600, 0xFE00_0000


def _random_plan(rng: random.Random) -> list[SlotSpec]:
    slots = {}
    for _ in range(4):
        bus, addr = rng.choice(DOORBELLS)
        width = rng.choice((1, 2, 4) if bus is Bus.PIO else (1, 2, 4, 8))
        slot = SlotSpec(bus, addr, width, rng.choice((0, 1, 2, 3)), rng.choice((0, 1, 2)))
        slots[(bus, addr, width, slot.value)] = slot
    return list(slots.values())


def _random_registration(rng: random.Random) -> RegistrationSpec:
    bus, addr = rng.choice(DOORBELLS)
    width = rng.choice((0, 1, 2, 4) if bus is Bus.PIO else (0, 1, 2, 4, 8))
    trigger = None if width == 0 or rng.random() < 0.4 else rng.choice((0, 1, 2, 3))
    return RegistrationSpec(bus, addr, width, trigger)


def _check_exact(checkpoint, where: object) -> None:
    assert checkpoint.exact, where
    assert checkpoint.attribution_ok, where
    for door in checkpoint.doorbells:
        assert door.balance == 0, (where, door)
        assert len(door.per_vcpu) == 2, (where, door)
        assert sum(v.rings for v in door.per_vcpu) == door.rings, (where, door)
        assert sum(v.exits for v in door.per_vcpu) == door.exits, (where, door)
        for share in door.per_vcpu:
            # Parked: each vCPU's announced rings are all counted, and it cannot
            # have exited more often than it rang.
            assert share.issued == share.rings >= share.exits, (where, share)


def _by_doorbell(checkpoint, bus: Bus, addr: int):
    return next(d for d in checkpoint.doorbells if (d.bus, d.addr) == (bus, addr))


def test_random_plans_on_both_vcpus_balance_through_churn(lab2) -> None:
    rng = random.Random(4242)
    lab2.set_plans([_random_plan(rng), _random_plan(rng)])
    lab2.start()
    rejected = 0
    for step in range(400):
        action = rng.random()
        if action < 0.45:
            try:
                lab2.add_registration(_random_registration(rng))
            except RegistrationRejected:
                rejected += 1
        elif action < 0.8 and lab2.registrations():
            lab2.remove_registration(rng.choice(list(lab2.registrations())))
        elif action < 0.9:
            lab2.set_plan(_random_plan(rng), vcpu=rng.randrange(2))
        elif action < 0.97:
            lab2.set_plans([_random_plan(rng), _random_plan(rng)])
        else:
            lab2.reset_counters()
        snap = lab2.snapshot()
        for door in snap.doorbells:
            assert door.live_ok, (step, door)
        # Every action above paused: its pages were checked (test_fold_race.py).
        assert snap.health.garbage_pages == 0, step
        if step % 5 == 0:
            _check_exact(lab2.checkpoint(), step)
    final = lab2.checkpoint()
    _check_exact(final, "final")
    rings = [sum(d.per_vcpu[k].rings for d in final.doorbells) for k in (0, 1)]
    assert rings[0] > 0 and rings[1] > 0, rings
    assert rejected > 0  # the kernel's EEXIST was exercised too
    assert lab2.snapshot().health.garbage_pages == 0


def test_both_vcpus_ring_one_shared_eventfd_and_every_signal_is_theirs(lab2) -> None:
    slot = SlotSpec(Bus.PIO, PIO, 1, 1, 8)
    lab2.set_plans([[slot], [slot]])
    reg = lab2.add_registration(RegistrationSpec(Bus.PIO, PIO, 1))
    lab2.start()
    for _ in range(5):
        time.sleep(0.1)
        checkpoint = lab2.checkpoint()
        _check_exact(checkpoint, "shared")
        door = _by_doorbell(checkpoint, Bus.PIO, PIO)
        assert door.exits == 0 and door.signals == door.rings
    stats = next(r for r in lab2.snapshot().registrations if r.id == reg)
    vcpu0, vcpu1 = door.per_vcpu
    assert vcpu0.rings > 0 and vcpu1.rings > 0
    # One eventfd served both: its counter is the sum of both vCPUs' rings.
    assert stats.signals >= vcpu0.rings + vcpu1.rings


def test_each_vcpu_rings_its_own_eventfd(lab2) -> None:
    lab2.set_plans([[SlotSpec(Bus.PIO, PIO, 1, 1, 8)], [SlotSpec(Bus.MMIO, MMIO, 4, 1, 8)]])
    pio = lab2.add_registration(RegistrationSpec(Bus.PIO, PIO, 1))
    mmio = lab2.add_registration(RegistrationSpec(Bus.MMIO, MMIO, 4))
    lab2.start()
    time.sleep(0.3)
    lab2.pause()
    checkpoint = lab2.checkpoint()
    _check_exact(checkpoint, "separate")
    snap = lab2.snapshot()
    signals = {r.id: r.signals for r in snap.registrations}
    pio_door = _by_doorbell(checkpoint, Bus.PIO, PIO)
    mmio_door = _by_doorbell(checkpoint, Bus.MMIO, MMIO)
    assert signals[pio] == pio_door.per_vcpu[0].rings > 0 and pio_door.per_vcpu[1].rings == 0
    assert signals[mmio] == mmio_door.per_vcpu[1].rings > 0 and mmio_door.per_vcpu[0].rings == 0
    assert {s.vcpu for s in snap.slots} == {0, 1}
    lab2.resume()


def test_userspace_exits_are_counted_for_the_vcpu_that_rang(lab2) -> None:
    # Same doorbell and value on both, nothing registered: only the run loop
    # that took the exit can say whose it was.
    slot = SlotSpec(Bus.PIO, PORT2, 2, 3, 1)
    lab2.set_plans([[slot], [slot, SlotSpec(Bus.MMIO, MMIO, 2, 5, 1)]])
    lab2.start()
    time.sleep(0.2)
    lab2.checkpoint()  # the kernel baseline
    time.sleep(0.3)
    checkpoint = lab2.checkpoint()
    _check_exact(checkpoint, "exits")
    door = _by_doorbell(checkpoint, Bus.PIO, PORT2)
    for share in door.per_vcpu:
        assert share.exits == share.rings > 0, share
    # MMIO exits come from vCPU 1 alone: the kernel's mmio_exits relation holds
    # only when every vCPU's stats fd is summed.
    assert checkpoint.kernel is not None and checkpoint.kernel.all_hold, checkpoint.kernel
    assert checkpoint.kernel.ours.mmio_exits > 0


def test_registrations_come_and_go_while_both_ring(lab2) -> None:
    lab2.set_plans(
        [
            [SlotSpec(Bus.PIO, PIO, 1, 1, 2), SlotSpec(Bus.MMIO, MMIO, 4, 2, 2)],
            [SlotSpec(Bus.MMIO, MMIO, 4, 2, 2), SlotSpec(Bus.PIO, PIO, 1, 7, 2)],
        ]
    )
    lab2.start()
    specs = [
        RegistrationSpec(Bus.PIO, PIO, 1),
        RegistrationSpec(Bus.PIO, PIO, 1, 7),
        RegistrationSpec(Bus.MMIO, MMIO, 4, 2),
        RegistrationSpec(Bus.MMIO, MMIO, 0),
    ]
    for round_ in range(30):
        spec = specs[round_ % len(specs)]
        try:
            reg = lab2.add_registration(spec)
        except RegistrationRejected:
            continue
        time.sleep(0.01)
        _check_exact(lab2.checkpoint(), (round_, "added"))
        lab2.remove_registration(reg)
        _check_exact(lab2.checkpoint(), (round_, "removed"))
    final = lab2.checkpoint()
    assert sum(d.signals for d in final.doorbells) > 0
    assert sum(d.exits for d in final.doorbells) > 0


def test_live_bracket_holds_across_both_vcpus_and_catches_a_lost_count_on_vcpu1(lab2) -> None:
    shared = SlotSpec(Bus.PIO, PIO, 1, 1, 8)
    lab2.set_plans([[shared], [shared, SlotSpec(Bus.MMIO, MMIO, 4, 1, 8)]])
    lab2.add_registration(RegistrationSpec(Bus.PIO, PIO, 1))
    lab2.start()
    in_flight = 0
    for _ in range(200):
        for door in lab2.snapshot().doorbells:
            assert door.live_ok, door
            in_flight += door.in_flight
    assert in_flight > 0
    with lab2.paused():
        index = next(i for i, s in lab2._slots.items() if s.bus is Bus.MMIO)
        assert index >= lib.MAX_SLOTS  # vCPU 1's slot, on vCPU 1's counter page
        page = lib.VCPU_AREA + lib.CTR_BASE + (index - lib.MAX_SLOTS) * lib.CTR_STRIDE
        for offset in (lib.CTR_RINGS, lib.CTR_ISSUED):
            lab2.poke_guest(page + offset, lab2.peek_guest(page + offset) + 3)
        door = next(d for d in lab2.snapshot().doorbells if d.bus is Bus.MMIO)
        assert not door.live_ok and door.in_flight == -3
    assert all(d.live_ok for d in lab2.snapshot().doorbells if d.bus is Bus.PIO)


def test_a_fault_on_vcpu1_faults_the_lab_and_names_it(lab2) -> None:
    lab2.set_plans([[SlotSpec(Bus.PIO, PIO, 1, 1, 2)], [SlotSpec(Bus.PIO, PORT2, 1, 1, 2)]])
    lab2.start()
    time.sleep(0.05)
    lab2.poke_guest(lib.VCPU_AREA + lib.MB_SLOTS + lib.SLOT_KIND, 99)
    deadline = time.monotonic() + 2
    while lab2.state != "faulted" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lab2.state == "faulted"
    assert (lab2.fault() or "").startswith("vCPU 1: the guest rejected its ring plan")
    with pytest.raises(GuestFault):
        lab2.pause()
    lab2.stop()


def test_one_vcpu_only_modes_say_so(lab2) -> None:
    with pytest.raises(ValueError, match="one vCPU"):
        lab2.set_pace(100.0)
    with pytest.raises(ValueError, match="one vCPU"):
        lab2.start_bare(SlotSpec(Bus.PIO, PIO, 1, 1, 0))
    with pytest.raises(ValueError, match="vCPU 2 does not exist"):
        lab2.set_plan([SlotSpec(Bus.PIO, PIO, 1, 1, 0)], vcpu=2)


def test_more_vcpus_than_the_engine_runs_is_a_one_line_error() -> None:
    from iofdtui.engine.lab import Lab

    with pytest.raises(KvmUnavailable, match="--vcpus 1"):
        Lab(vcpus=lib.MAX_VCPUS + 1)


def test_start_stop_cycles_with_two_vcpus_leak_no_fd_or_thread() -> None:
    from iofdtui.engine.lab import Lab

    def counts() -> tuple[int, int, int]:
        fds = len(os.listdir("/proc/self/fd"))
        return fds, len(os.listdir("/proc/self/task")), threading.active_count()

    with Lab(vcpus=2):
        pass
    before = counts()
    for cycle in range(25):
        lab = Lab(vcpus=2)
        slot = SlotSpec(Bus.PIO, PIO, 1, 1, 1)
        lab.set_plans([[slot], [slot, SlotSpec(Bus.MMIO, MMIO, 4, 1, 1)]])
        lab.add_registration(RegistrationSpec(Bus.PIO, PIO, 1))
        lab.start()
        time.sleep(0.002)
        if cycle % 2:
            lab.pause()
        lab.stop()
        lab.start()
        lab.close()
    assert counts() == before


def test_bench_vcpus_json_reports_both_vcpus_and_exact_accounting() -> None:
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--vcpus", "2", "--seconds", "0.05", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = json.loads(done.stdout)
    modes = {(r["bus"], r["mode"]) for r in doc["results"]}
    assert modes == {
        (b, m) for b in ("pio", "mmio") for m in ("1 vCPU", "own eventfds", "one eventfd")
    }
    for row in doc["results"]:
        assert row["conserved"] is True and row["userspace_exits"] == 0, row
        assert len(row["vcpus"]) == (1 if row["mode"] == "1 vCPU" else 2)
        assert all(
            v["rings"] > 0 and set(v["latency_ns"]) == {"p50", "p99", "mean"} for v in row["vcpus"]
        )
        assert row["signals"] >= sum(v["rings"] for v in row["vcpus"])
