"""Every counter page is settled where the engine checks it, and true.

A live reading can land inside the guest's counter update: its HIST_ADD
(guests/doorbell.S) bumps a page's `samples`, then one histogram bucket, and a
reading between the two reads the page one sample ahead of its histogram.
The engine must read that bucket at a later fold even when no other counter
of the page moves again (the guest parks before its next visit to the page):
otherwise the sample is lost from the histogram and the next pause calls the
page garbage, a false alarm.

A stop must not cut a visit short either: its rings are announced (issued)
before they are made and counted after, so a guest stopped in between keeps
a page with rings < issued, a page the engine calls garbage at every check
after the next start, and the exact check fails for good.
"""

from __future__ import annotations

import time

import pytest

from iofdtui.engine import native_reads
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.native import lib

pytestmark = pytest.mark.kvm

BUCKET = 100  # a visit of 100 cycles per ring: below 128, its own bucket


def _add(lab, gpa: int, n: int) -> None:
    lab.poke_guest(gpa, (lab.peek_guest(gpa) + n) & 0xFFFF_FFFF)


def _slot_samples(lab, index: int) -> tuple[int, int]:
    """The slot's samples and the total of its histogram, as the host holds them."""
    path = native_reads.read_path(lab._lab, lib.LAB_PATH_SLOT, index, lib.LAB_MODE_CURRENT)
    hist = native_reads.read_hist(lab._lab, lib.LAB_PATH_SLOT, index, lib.LAB_MODE_CURRENT)
    return path.samples, sum(n for _, n in hist)


def test_a_reading_inside_the_guests_histogram_update_loses_no_sample(lab) -> None:
    slot = SlotSpec(Bus.PIO, 0x600, 1, 1, 1)
    lab.set_plan([slot])
    lab.start()
    deadline = time.monotonic() + 5
    while lab.snapshot().total_rings == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lab.pause()  # parked by handshake: every page agrees with itself
    assert lab.snapshot().health.garbage_pages == 0
    index = next(i for i, spec in lab._slots.items() if spec == slot)
    page = lib.CTR_BASE + index * lib.CTR_STRIDE
    # One more visit's HIST_ADD, replayed word by word on the parked guest's
    # page, with a live reading where a preempted vCPU thread would leave it.
    _add(lab, page + lib.CTR_CYCLES, BUCKET)
    _add(lab, page + lib.CTR_SAMPLES, 1)
    lab.snapshot()  # reads the page one sample ahead of its histogram
    _add(lab, page + lib.CTR_HIST + 4 * BUCKET, 1)
    # The guest parks before it visits the page again; the stop takes every
    # count with it parked (no ring moves) and checks the pages.
    lab.stop()
    assert lab.snapshot().health.garbage_pages == 0
    samples, in_histogram = _slot_samples(lab, index)
    assert samples == in_histogram > 0


def test_a_stop_parks_the_guest_between_visits_so_a_restart_stays_exact(lab) -> None:
    # Long visits (129 rings each), so a stop that kicks lands inside one most times.
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 8), SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 1, 8)])
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    for cycle in range(8):
        lab.start()
        deadline = time.monotonic() + 5
        while lab.snapshot().total_rings == 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        lab.stop()
        assert lab.snapshot().health.garbage_pages == 0, cycle
        for door in lab.checkpoint().doorbells:
            assert door.balance == 0 and door.issued == door.rings, (cycle, door)
    lab.start()
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    assert lab.snapshot().health.garbage_pages == 0
