"""The scale run at small N: decoys and trigger values, exact at every point."""

from __future__ import annotations

import errno

import pytest

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.experiments import scale
from iofdtui.engine.experiments.scale import run_scale
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

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


@pytest.fixture
def nofile_300():  # type: ignore[no-untyped-def]
    """A soft open-file limit of 300, as after `ulimit -Sn 300`; put back afterwards."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
    try:
        yield 300
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_limit_it_cannot_raise_keeps_every_point_measured_below_it(monkeypatch, nofile_300):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(scale, "_raise_fd_limit", lambda needed, notes: nofile_300)
    report = run_scale(0.02, sizes=(1, 10, 1_000), trigger_counts=(1, 8, 512))
    assert [(p.series, p.n) for p in report.points] == [
        ("decoys", 1),
        ("decoys", 10),
        *((s, k) for k in (1, 8) for s in ("hit-first", "hit-last", "miss")),
    ]
    assert all(p.exact and p.rings > 0 for p in report.points)
    assert len(report.notes) == 2
    assert report.notes[0].startswith("stopped before 1,000 decoys: the open-file limit is 300")
    assert report.notes[1].startswith("stopped before 512 trigger values: the open-file limit")


def test_an_emfile_mid_run_keeps_the_points_and_says_where(monkeypatch, nofile_300):  # type: ignore[no-untyped-def]
    # The limit looks raised, but the kernel still says EMFILE at the 512 values.
    monkeypatch.setattr(scale, "_raise_fd_limit", lambda needed, notes: 1_000_000)
    report = run_scale(0.02, sizes=(1,), trigger_counts=(1, 512))
    assert [(p.series, p.n) for p in report.points] == [
        ("decoys", 1),
        ("hit-first", 1),
        ("hit-last", 1),
        ("miss", 1),
    ]
    [note] = report.notes
    assert note.startswith("stopped at 512 trigger values after 4 points: ")
    assert "EMFILE" in note or "open files" in note.lower()


def test_a_run_that_measured_nothing_raises(monkeypatch):  # type: ignore[no-untyped-def]
    def no_vm(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr("iofdtui.engine.lab.Lab", no_vm)  # run_scale imports it when called
    with pytest.raises(OSError, match="Cannot allocate memory"):
        run_scale(0.02, sizes=(1,), trigger_counts=(1,))
