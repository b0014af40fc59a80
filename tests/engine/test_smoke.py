"""The compiled core is importable and the guest really rings on /dev/kvm."""

from __future__ import annotations

import time

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec


def test_native_constants_come_from_the_headers() -> None:
    from iofdtui.engine.native import lib

    assert lib.MAX_SLOTS == 16
    assert lib.KIND_MMIO8 == lib.NKINDS - 1
    assert lib.lab_hist_value(128) == 128
    assert lib.lab_hist_value(lib.HIST_BUCKETS - 1) == 127 << 25


@pytest.mark.kvm
def test_a_wildcard_registration_takes_every_ring(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 0x42, 4), SlotSpec(Bus.PIO, 0x600, 1, 7, 4)])
    reg = lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.start()
    time.sleep(0.3)
    assert lab.pause() is True
    snap = lab.snapshot()
    served, baseline = snap.slots
    assert served.rings > 0 and baseline.rings > 0
    assert served.exits == 0
    assert baseline.exits == baseline.rings
    (stats,) = snap.registrations
    assert stats.id == reg
    assert stats.signals == served.rings
    assert snap.checkpoint is not None
    assert snap.checkpoint.conserved and snap.checkpoint.attribution_ok
