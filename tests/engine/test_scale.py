"""The scale run at small N: decoys and trigger values, exact at every point."""

from __future__ import annotations

import pytest

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.scale import run_scale

pytestmark = pytest.mark.kvm


@pytest.mark.parametrize("bus", [Bus.PIO, Bus.MMIO])
def test_small_scale_run_is_complete_and_exact(bus: Bus) -> None:
    report = run_scale(0.05, bus=bus, sizes=(1, 10, 100), trigger_counts=(1, 8))
    decoys = [p.n for p in report.points if p.series == "decoys"]
    assert decoys == [1, 10, 100]
    walks = {(p.series, p.n) for p in report.points if p.series != "decoys"}
    assert walks == {(s, k) for s in ("hit-first", "hit-last", "miss") for k in (1, 8)}
    for point in report.points:
        assert point.exact, point
        assert point.rings > 0 and point.latency.samples > 0


def test_decoys_refuse_a_doorbell_the_guest_rings(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 1)])
    assert lab.add_decoys([RegistrationSpec(Bus.PIO, 0x500, 1)]) == 1
    with pytest.raises(RegistrationRejected, match="doorbell the guest rings"):
        lab.add_decoys([RegistrationSpec(Bus.PIO, 0x3F8, 2)])
    assert lab.decoy_count == 1
    lab.remove_decoys()
    assert lab.decoy_count == 0


def test_on_point_sees_each_point_and_can_stop_the_run() -> None:
    seen = []

    def on_point(point: object) -> bool:
        seen.append(point)
        return len(seen) < 2

    report = run_scale(0.02, sizes=(1, 10, 100), trigger_counts=(1,), on_point=on_point)
    assert [p.n for p in report.points] == [1, 10] and seen == list(report.points)
    assert report.notes == ("stopped by the caller after 2 points",)
