"""Coalesced zones on real ioctls: the ring, its full path, drains, removal,
a scribbled ring, the overlap with ioeventfds, and exact conservation
(rings = signals + exits + ring entries) through random changes."""

from __future__ import annotations

import random
import time

import pytest

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

pytestmark = pytest.mark.kvm

PIO_DOOR, MMIO_DOOR = 0x600, 0xFE0F_F000


def _door(snapshot_or_checkpoint, bus: Bus, addr: int):
    return next(d for d in snapshot_or_checkpoint.doorbells if (d.bus, d.addr) == (bus, addr))


def _ring_for(lab, seconds: float) -> None:
    lab.resume()
    time.sleep(seconds)
    lab.pause()


def test_zoned_writes_land_in_the_ring_and_every_170th_exits_as_ring_full(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, PIO_DOOR, 1, 7, 8), SlotSpec(Bus.MMIO, MMIO_DOOR, 4, 9, 8)])
    pio = lab.add_zone(Bus.PIO, PIO_DOOR, 1)
    mmio = lab.add_zone("mmio", MMIO_DOOR, 0x1000)
    lab.start()
    time.sleep(0.8)
    lab.pause()
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    snap = lab.snapshot()
    ring = snap.ring
    assert ring is not None and ring.mode == "exits"
    assert ring.capacity == 170 and ring.found_max == 169  # one slot always stays empty
    assert ring.stray == ring.bad == ring.scribbled == 0
    for bus, addr, width, value, zone in (
        (Bus.PIO, PIO_DOOR, 1, 7, pio),
        (Bus.MMIO, MMIO_DOOR, 4, 9, mmio),
    ):
        door = _door(checkpoint, bus, addr)
        assert door.signals == 0 and door.entries > 0 and door.ring_full > 0
        assert door.rings == door.entries + door.exits
        assert door.exits == door.ring_full  # every exit there was a full ring
        assert door.entries_by_value == ((width, value, door.entries),)
        stats = next(z for z in snap.zones if z.id == zone)
        assert (stats.entries, stats.ring_full) == (door.entries, door.ring_full)
    # Drained only at exits, the ring fills: one exit per 169 entries, give or
    # take the drains the readings and pauses made in between.
    total = sum(
        _door(checkpoint, b, a).entries for b, a in ((Bus.PIO, PIO_DOOR), (Bus.MMIO, MMIO_DOOR))
    )
    full = sum(
        _door(checkpoint, b, a).ring_full for b, a in ((Bus.PIO, PIO_DOOR), (Bus.MMIO, MMIO_DOOR))
    )
    assert 150 <= total / full <= 170


def test_live_readings_bracket_the_ring_entries(lab) -> None:
    lab.set_plan([SlotSpec(Bus.MMIO, MMIO_DOOR, 4, 1, 8), SlotSpec(Bus.PIO, 0x3F8, 1, 1, 8)])
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.add_zone(Bus.MMIO, MMIO_DOOR, 4)
    lab.start()
    in_flight = entries = 0
    for _ in range(150):
        for door in lab.snapshot().doorbells:
            assert door.live_ok, door
            in_flight += door.in_flight
            entries += door.entries
    assert in_flight > 0 and entries > 0


def test_removing_a_zone_drains_first_and_loses_no_entry(lab) -> None:
    slot = SlotSpec(Bus.PIO, PIO_DOOR, 2, 3, 4)
    lab.set_plan([slot])
    zone = lab.add_zone(Bus.PIO, PIO_DOOR - 4, 16)
    lab.start()
    earlier = 0  # entries of the zones removed before
    for _ in range(5):
        time.sleep(0.1)
        with lab.paused():
            final = lab.remove_zone(zone)
            door = _door(lab.checkpoint(), Bus.PIO, PIO_DOOR)
            assert door.balance == 0
            # Every entry the doorbell got is the removed zones': none was lost.
            assert final.removed and earlier + final.entries == door.entries
            assert final.ring_full > 0
            earlier += final.entries
            zone = lab.add_zone(Bus.PIO, PIO_DOOR - 4, 16)
    time.sleep(0.2)
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    door = _door(checkpoint, Bus.PIO, PIO_DOOR)
    assert door.entries > earlier and door.exits == door.ring_full
    removed = [z for z in lab.snapshot().zones if z.removed]
    assert len(removed) == 5 and sum(z.entries for z in removed) == earlier


def test_a_scribbled_ring_is_reported_bounded_and_put_back(lab) -> None:
    lab.set_plan([SlotSpec(Bus.MMIO, MMIO_DOOR, 4, 5, 8)])
    lab.add_zone(Bus.MMIO, MMIO_DOOR, 0x100)
    lab.start()
    time.sleep(0.2)
    lab.pause()
    lab.scribble_ring(0xDEAD_BEEF, 0x7FFF_FFFF)  # both far outside the 170 entries
    lab.resume()
    time.sleep(0.3)
    snap = lab.snapshot()  # must not read past the ring page, nor crash
    assert snap.ring.scribbled > 0 and snap.state == "running"
    door = _door(snap, Bus.MMIO, MMIO_DOOR)
    assert door.live_ok  # the kernel refuses to append past a bad `last`: those writes exit
    lab.pause()
    assert lab.snapshot().ring.repaired == 1
    assert lab.checkpoint().holds
    entries_then = _door(lab.snapshot(), Bus.MMIO, MMIO_DOOR).entries
    scribbled_then = lab.snapshot().ring.scribbled
    _ring_for(lab, 0.3)
    snap = lab.snapshot()
    assert _door(snap, Bus.MMIO, MMIO_DOOR).entries > entries_then  # the ring works again
    assert snap.ring.scribbled == scribbled_then
    assert lab.checkpoint().holds


def test_the_drain_thread_mode_drains_without_exits(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, PIO_DOOR, 4, 1, 8)])
    lab.add_zone(Bus.PIO, PIO_DOOR, 4)
    lab.set_ring_drain("thread")
    assert lab.ring_drain == "thread"
    lab.start()
    time.sleep(0.6)
    lab.pause()
    snap = lab.snapshot()
    assert snap.ring.mode == "thread" and snap.ring.drains > 0
    assert lab.checkpoint().holds
    lab.set_ring_drain("exits")
    assert lab.snapshot().ring.mode == "exits"
    with pytest.raises(ValueError, match="drain mode"):
        lab.set_ring_drain("sometimes")


def test_paced_entries_found_alone_time_their_delivery_delay(lab) -> None:
    if lab.wake_note is not None:
        pytest.skip(f"no shared TSC clock here: {lab.wake_note}")
    lab.set_plan([SlotSpec(Bus.MMIO, MMIO_DOOR, 4, 1, 4)])
    lab.add_zone(Bus.MMIO, MMIO_DOOR, 4)
    lab.set_ring_drain("thread")
    lab.set_pace(100)
    lab.start()
    time.sleep(0.2)
    lab.reset_counters()
    time.sleep(0.8)
    lab.pause()
    assert lab.checkpoint().holds
    snap = lab.snapshot()
    ring, door = snap.ring, _door(snap, Bus.MMIO, MMIO_DOOR)
    # Every entry drained while paced is timed or counted as not timed.
    assert ring.delay_samples + ring.delay_untimed == door.entries > 0
    assert ring.delay_samples > 0
    assert 0 < ring.delay_p50_ns <= ring.delay_p99_ns
    # Drained at exits the ring fills: its entries are found together, not alone.
    lab.set_ring_drain("exits")
    lab.reset_counters()
    _ring_for(lab, 0.8)
    snap = lab.snapshot()
    door = _door(snap, Bus.MMIO, MMIO_DOOR)
    assert snap.ring.delay_samples + snap.ring.delay_untimed == door.entries
    assert snap.ring.delay_untimed > 10 * snap.ring.delay_samples


def _overlap(lab, zone: tuple[int, int], zone_first: bool, trigger: int | None = None):
    lab.set_plan([SlotSpec(Bus.PIO, PIO_DOOR, 1, 1, 8)])
    reg = RegistrationSpec(Bus.PIO, PIO_DOOR, 1, trigger)
    if zone_first:
        lab.add_zone(Bus.PIO, *zone)
        lab.add_registration(reg)
    else:
        lab.add_registration(reg)
        lab.add_zone(Bus.PIO, *zone)
    lab.start()
    time.sleep(0.4)
    checkpoint = lab.checkpoint()
    assert checkpoint.holds, checkpoint
    return _door(checkpoint, Bus.PIO, PIO_DOOR), lab.snapshot().slots[0]


def test_an_ioeventfd_registered_first_takes_the_writes_over_a_zone(lab) -> None:
    door, slot = _overlap(lab, (PIO_DOOR - 8, 16), zone_first=False)
    assert door.signals == door.rings and door.entries == 0
    assert slot.served_by is not None


def test_a_zone_ending_later_sits_behind_an_ioeventfd_at_its_start(lab) -> None:
    door, _ = _overlap(lab, (PIO_DOOR, 16), zone_first=True)
    assert door.signals == door.rings and door.entries == 0


def test_a_zone_registered_first_and_starting_lower_takes_the_writes_until_full(lab) -> None:
    door, _ = _overlap(lab, (PIO_DOOR - 8, 16), zone_first=True)
    # The zone first; a full ring hands the write to the ioeventfd behind it
    # (no exit), and the drains at readings make room again.
    assert door.entries > 0 and door.signals > 0 and door.exits == 0
    assert door.rings == door.entries + door.signals


def test_a_trigger_that_misses_leaves_the_write_to_the_zone(lab) -> None:
    door, _ = _overlap(lab, (PIO_DOOR - 8, 16), zone_first=False, trigger=2)
    assert door.signals == 0 and door.entries > 0 and door.exits == door.ring_full


def test_zones_and_registrations_balance_exactly_through_random_changes(lab) -> None:
    rng = random.Random(1111)
    doors = [(Bus.PIO, PIO_DOOR), (Bus.PIO, 0x3F8), (Bus.MMIO, MMIO_DOOR), (Bus.MMIO, 0xFE00_0000)]
    lab.set_plan(
        [
            SlotSpec(bus, addr, 1 if bus is Bus.PIO else 4, v, 2)
            for bus, addr in doors
            for v in (0, 1)
        ]
    )
    lab.start()
    rejected = checks = 0
    for step in range(300):
        action = rng.random()
        bus, addr = rng.choice(doors)
        try:
            if action < 0.3:
                lab.add_zone(bus, addr - rng.choice((0, 8)), rng.choice((1, 4, 16, 0x100)))
            elif action < 0.5 and lab.zones():
                lab.remove_zone(rng.choice(list(lab.zones())))
            elif action < 0.75:
                width = 1 if bus is Bus.PIO else 4
                lab.add_registration(RegistrationSpec(bus, addr, width, rng.choice((None, 0, 1))))
            elif lab.registrations():
                lab.remove_registration(rng.choice(list(lab.registrations())))
        except RegistrationRejected:
            rejected += 1
        if step % 25 == 24:
            lab.set_ring_drain(rng.choice(("exits", "thread")))
        for door in lab.snapshot().doorbells:
            assert door.live_ok, (step, door)
        if step % 10 == 0:
            checkpoint = lab.checkpoint()
            checks += 1
            assert checkpoint.holds, (step, checkpoint)
    final = lab.checkpoint()
    assert final.holds
    assert sum(d.entries for d in final.doorbells) > 0
    assert sum(d.signals for d in final.doorbells) > 0
    assert checks == 30


def test_two_vcpus_writing_one_zoned_doorbell_balance_together(lab2) -> None:
    slot = SlotSpec(Bus.MMIO, MMIO_DOOR, 4, 1, 8)
    lab2.set_plans([[slot], [slot]])
    lab2.add_zone(Bus.MMIO, MMIO_DOOR, 4)
    lab2.start()
    time.sleep(0.5)
    checkpoint = lab2.checkpoint()
    assert checkpoint.holds
    door = _door(checkpoint, Bus.MMIO, MMIO_DOOR)
    assert door.entries > 0 and door.rings == door.entries + door.exits


@pytest.mark.parametrize(
    ("bus", "addr", "size", "says"),
    [
        (Bus.PIO, 0x0500, 0x20, "iofdtui's own"),
        (Bus.MMIO, 0x1000, 0x10, "guest RAM"),
        (Bus.PIO, 0xFFF0, 0x20, "runs past the end"),
        (Bus.MMIO, MMIO_DOOR, 0, "size"),
        (Bus.MMIO, 0xFE00_0000, 0x100_0000, "overlaps the IOAPIC at 0xfec00000"),
        (Bus.MMIO, 0xFEE0_0FF0, 4, "overlaps the local APIC"),
    ],
)
def test_a_zone_that_cannot_work_is_refused_in_one_line(lab, bus, addr, size, says) -> None:
    with pytest.raises(RegistrationRejected, match=says) as err:
        lab.add_zone(bus, addr, size)
    assert "\n" not in str(err.value)
    assert lab.zones() == {}


def test_removing_an_unknown_zone_is_refused(lab) -> None:
    with pytest.raises(RegistrationRejected, match="no zone #7"):
        lab.remove_zone(7)
    with pytest.raises(RegistrationRejected, match="an int"):
        lab.remove_zone("1")
