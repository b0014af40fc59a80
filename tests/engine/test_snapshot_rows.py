"""A snapshot's rows with many registrations: quiet ones (never rung) are
built on a fast path and reused, the same objects, while nothing in them
changed; they must read exactly as the general path would build them, meet
the current baseline of their kind through the snapshot, and the doorbells
must add up as at a checkpoint."""

from __future__ import annotations

import dataclasses
import time

import pytest

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.figures import NO_SAMPLES
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.rows import quiet_row
from iofdtui.engine.snapshot import Latency, RegistrationStats

QUIET = [RegistrationSpec(Bus.PIO, 0x1000 + i, 1) for i in range(40)] + [
    RegistrationSpec(Bus.MMIO, 0xD000_0000 + 0x10 * i, 4) for i in range(20)
]
UNRUNG_ANY_LENGTH = RegistrationSpec(Bus.MMIO, 0xD100_0000, 0)


@pytest.mark.parametrize("measured", [True, False])
def test_a_quiet_row_is_the_row_the_dataclass_builds(measured: bool) -> None:
    spec = RegistrationSpec(Bus.PIO, 0x1000, 1)
    fast = quiet_row(7, spec, 42, measured, 1)
    zero = 0 if measured else None
    slow = RegistrationStats(7, spec, 42, 0, 0.0 if measured else None, 0, NO_SAMPLES, None)
    slow = dataclasses.replace(slow, baseline_width=1, reader_wakeups=zero, new_signals=zero)
    assert type(fast) is RegistrationStats
    for field in dataclasses.fields(RegistrationStats):
        assert getattr(fast, field.name) == getattr(slow, field.name), field.name
    assert fast == slow and hash(fast) == hash(slow)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.signals = 1  # type: ignore[misc]


@pytest.fixture
def busy(lab) -> object:
    """The demo ringing, beside 60 registrations it never rings."""
    lab.set_plan(demo_plan())
    for spec in [*demo_registrations(), *QUIET]:
        lab.add_registration(spec)
    if lab.any_length:
        lab.add_registration(UNRUNG_ANY_LENGTH)
    lab.start()
    time.sleep(0.2)
    return lab


@pytest.mark.kvm
def test_quiet_rows_meet_their_kinds_baseline_while_the_guest_rings(busy) -> None:
    lab = busy
    lab.snapshot()
    previous = None
    for _ in range(3):
        time.sleep(0.05)
        snap = lab.snapshot()
        rows = {r.spec: r for r in snap.registrations}
        pio, mmio = (rows[spec] for spec in demo_registrations())
        assert pio.latency.samples and mmio.latency.samples  # rung: the general path
        for spec in QUIET:
            row = rows[spec]
            rung = pio if spec.bus is Bus.PIO else mmio
            baseline = snap.baseline_for(row)
            assert baseline is snap.baseline_for(rung) and baseline.samples
            assert baseline is snap.baselines[(spec.bus, spec.width)]
            assert row.baseline_width == spec.width == rung.baseline_width
            assert row.signals == row.rings == 0 and row.latency == Latency.empty()
            assert row.signals_per_s == 0.0 and row.ratio is None and row.by_reader == ()
            why = snap.why_for(row)
            assert why is not None and why.signals == why.reader_wakeups == 0
            assert snap.why is not None
            assert (why.preemptions, why.rings) == (snap.why.preemptions, snap.why.rings)
            if previous is not None:
                assert row is previous[spec]  # nothing of its own changed: the same row
        previous = rows
        if lab.any_length:
            assert rows[UNRUNG_ANY_LENGTH].baseline_width == 0
            assert snap.baseline_for(rows[UNRUNG_ANY_LENGTH]) == Latency.empty()


@pytest.mark.kvm
def test_while_paused_rows_change_only_in_their_interval_counts(busy) -> None:
    lab = busy
    lab.pause()
    lab.snapshot()  # the first reading has no interval, hence no rate
    first, second = lab.snapshot(), lab.snapshot()
    quiet = set(QUIET)
    for a, b in zip(first.registrations, second.registrations, strict=True):
        assert a.id == b.id
        if a.spec in quiet:
            assert a is b  # nothing in it changed: the same row
        interval = {f: getattr(b, f) for f in ("signals_per_s", "reader_wakeups", "new_signals")}
        assert dataclasses.replace(a, **interval) == b
    assert second.doorbells == lab.checkpoint().doorbells
    assert all(door.balance == 0 for door in second.doorbells)


@pytest.mark.kvm
def test_once_stopped_quiet_rows_are_the_same_objects(busy) -> None:
    lab = busy
    lab.stop()  # no vCPU thread: no why, and nothing moves
    lab.snapshot()
    first, second = lab.snapshot(), lab.snapshot()
    assert first.why is None
    rows = dict(zip(first.registrations, second.registrations, strict=True))
    assert all(a is b for a, b in rows.items() if a.spec in set(QUIET))


@pytest.mark.kvm
def test_a_reset_and_a_new_registration_rebuild_the_rows(busy) -> None:
    lab = busy
    lab.snapshot()
    lab.reset_counters()
    snap = lab.snapshot()
    assert all(r.signals == 0 for r in snap.registrations if r.spec in set(QUIET))
    extra = lab.add_registration(RegistrationSpec(Bus.PIO, 0x1800, 1))
    time.sleep(0.05)
    rows = {r.id: r for r in lab.snapshot().registrations}
    assert rows[extra].spec == RegistrationSpec(Bus.PIO, 0x1800, 1)
    snap = lab.snapshot()
    rows = {r.id: r for r in snap.registrations}
    assert rows[extra].baseline_width == 1 and snap.baseline_for(rows[extra]).samples
    assert [r.id for r in snap.registrations] == sorted(rows)


@pytest.mark.kvm
def test_the_live_set_is_kept_until_the_registrations_or_the_plan_change(busy) -> None:
    lab = busy
    regs, plan, readings = lab._registrations, lab._plan, lab._readings
    lab.snapshot()
    kept = readings.live_set(plan, regs)
    lab.snapshot()
    assert readings.live_set(plan, regs) is kept  # rows and doorbells keep their layout
    changes = [
        lambda: lab.add_registration(RegistrationSpec(Bus.PIO, 0x1800, 1)),
        lambda: lab.remove_registration(max(lab.registrations())),
        lab.reset_counters,
        lambda: lab.set_plan(demo_plan()[:1]),
    ]
    for change in changes:
        before = regs.generation, plan.layout
        change()
        assert (regs.generation, plan.layout) != before
        fresh = readings.live_set(plan, regs)
        assert fresh is not kept
        assert [reg.id for reg in fresh.regs] == sorted(lab.registrations())
        assert fresh.native_ids == [lab._regs[rid].native_id for rid in sorted(lab.registrations())]
        kept = fresh
