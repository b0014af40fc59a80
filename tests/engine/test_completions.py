"""Completions on the live lab's registrations, on real ioctls (engine/completions.py)."""

from __future__ import annotations

import errno as E
import json
import random
import time
from collections.abc import Iterator

import pytest

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

PIO_DOOR = RegistrationSpec(Bus.PIO, 0x600, 1)
MMIO_DOOR = RegistrationSpec(Bus.MMIO, 0xFE000000, 4, 0x1)
PLAN = [
    SlotSpec(Bus.PIO, 0x600, 1, 0x5, 4),
    SlotSpec(Bus.MMIO, 0xFE000000, 4, 0x1, 4),
    SlotSpec(Bus.MMIO, 0xFE000000, 4, 0x2, 1),  # misses the trigger: exits
    SlotSpec(Bus.PIO, 0x700, 1, 0x1, 2),  # never registered: exits
]


@pytest.fixture
def clab() -> Iterator[object]:
    """A lab with an in-kernel irqchip (completions on), not yet started."""
    from tests.conftest import need_kvm

    need_kvm()
    from iofdtui.engine.lab import Lab

    with Lab(completions=True) as the_lab:
        yield the_lab


def _exact(stats: CompletionStats) -> None:
    """kicks = signals read = irqfd writes = handler runs, and the stages add up."""
    assert stats.exact, stats
    assert stats.write_errors == stats.merged == stats.negative == stats.unrecorded == 0
    assert stats.kicks == stats.irqfd_writes == stats.handler_runs
    if stats.route == "pin":
        assert stats.resamples == stats.handler_runs  # the line was lowered at each EOI, once
    else:
        assert stats.resamples is None
    stages = (stats.awake, stats.written, stats.handler)
    assert stats.round_trip.samples == stats.kicks  # every kick timed (one vCPU, few kicks)
    assert all(s.samples == stats.round_trip.samples for s in stages)
    if stats.kicks:
        assert all(s.p50_ns is not None and s.p50_ns >= 0 for s in (*stages, stats.round_trip))
        # Each kick's stages sum to its round trip exactly, so the means do too.
        total = sum(s.mean_ns for s in stages)  # type: ignore[misc]
        assert total == pytest.approx(stats.round_trip.mean_ns, rel=1e-9)


@pytest.mark.kvm
@pytest.mark.parametrize("route", ["msi", "pin"])
@pytest.mark.parametrize("reader", ["epoll", "poll", "none"])
def test_every_kick_of_a_registration_is_answered_once(clab, route: str, reader: str) -> None:
    pio = clab.add_registration(PIO_DOOR)
    mmio = clab.add_registration(MMIO_DOOR)
    clab.set_plan(PLAN)
    clab.set_reader(reader)
    clab.set_completion(pio, route)
    clab.start()
    time.sleep(0.4)
    clab.pause()
    checkpoint = clab.checkpoint()
    assert checkpoint.holds, checkpoint
    assert [rid for rid, _ in checkpoint.completions] == [pio]
    stats = dict(checkpoint.completions)[pio]
    assert stats.route == route and stats.kicks > 0
    _exact(stats)
    rows = {row.id: row for row in clab.snapshot().registrations}
    assert rows[pio].completion == stats and rows[mmio].completion is None
    # The rings of a completion's doorbell are its kicks plus those before it came.
    door = next(d for d in checkpoint.doorbells if d.addr == 0x600)
    assert door.signals >= stats.kicks and door.balance == 0
    # The kernel saw one hlt per kick between two checkpoints, as we count them.
    clab.resume()
    time.sleep(0.2)
    clab.pause()
    kernel = clab.checkpoint().kernel
    if kernel is not None and "halt_exits" in kernel.deltas:
        [halts] = [r for r in kernel.relations if r.stat == "halt_exits"]
        assert halts.holds and halts.ours > 0, halts


@pytest.mark.kvm
def test_a_recorded_snapshot_keeps_its_completions(clab) -> None:
    from iofdtui.engine.snapshot import Snapshot
    from iofdtui.recording.codec import decode, encode

    pio = clab.add_registration(PIO_DOOR)
    clab.set_plan(PLAN[:1])
    clab.set_completion(pio, "pin")
    clab.start()
    time.sleep(0.2)
    clab.pause()
    snap = clab.snapshot()
    assert snap.registrations[0].completion is not None
    assert snap.checkpoint is not None and snap.checkpoint.completions
    back = decode(Snapshot, json.loads(json.dumps(encode(snap), allow_nan=False)))
    assert back == snap


@pytest.mark.kvm
def test_random_completion_changes_keep_every_count_while_the_guest_runs(clab) -> None:
    rng = random.Random(10)
    clab.set_plan(PLAN)
    clab.start()
    specs = [PIO_DOOR, MMIO_DOOR]
    live: dict[RegistrationSpec, int] = {}
    removed_with_completion = 0
    for step in range(14):
        spec = rng.choice(specs)
        action = rng.choice(["add", "remove", "route", "route"])
        if spec not in live and action != "remove":
            live[spec] = clab.add_registration(spec)
        elif action == "remove" and spec in live:
            reg_id = live.pop(spec)
            had = clab.completion(reg_id)
            final = clab.remove_registration(reg_id)  # deassigns its irqfd too
            assert final.removed and (had is None) == (final.completion is None)
            removed_with_completion += had is not None
        elif spec in live:
            clab.set_completion(live[spec], rng.choice(["msi", "pin", None]))
        if step % 3 == 2:
            clab.set_device_work(rng.choice([0, 2, 10]))
        time.sleep(0.05)
        checkpoint = clab.checkpoint()
        assert checkpoint.holds, (step, checkpoint)
        for _, stats in checkpoint.completions:
            _exact(stats)
    assert clab.state == "running" and clab.fault() is None
    assert removed_with_completion >= 0


@pytest.mark.kvm
def test_a_completion_taken_away_leaves_the_doorbell_ringing_as_a_stream(clab) -> None:
    pio = clab.add_registration(PIO_DOOR)
    clab.set_plan(PLAN)
    clab.set_completion(pio, "msi")
    clab.start()
    time.sleep(0.2)
    clab.set_completion(pio, None)  # KVM_IRQFD_FLAG_DEASSIGN; the slot stops waiting
    assert clab.completion(pio) is None
    before = next(r for r in clab.snapshot().registrations if r.id == pio).signals
    time.sleep(0.2)
    checkpoint = clab.checkpoint()
    assert checkpoint.holds and checkpoint.completions == ()
    after = next(r for r in clab.snapshot().registrations if r.id == pio)
    # Visits of 65 rings again, not one kick a visit.
    assert after.signals - before > 1000 and after.completion is None
    # Its vector comes back: a new completion takes it, counts from zero.
    clab.set_completion(pio, "msi")
    time.sleep(0.1)
    again = clab.checkpoint()
    stats = dict(again.completions)[pio]
    assert stats.vector == 0x40 and stats.kicks > 0
    _exact(stats)


@pytest.mark.kvm
def test_device_work_shows_in_the_written_stage(clab) -> None:
    pio = clab.add_registration(PIO_DOOR)
    clab.set_plan(PLAN[:1])
    clab.set_completion(pio, "msi")
    clab.set_device_work(50)
    clab.start()
    time.sleep(0.3)
    stats = dict(clab.checkpoint().completions)[pio]
    _exact(stats)
    assert stats.device_work_us == pytest.approx(50, abs=0.01)
    # The reader spins 50 µs from its wake-up before it writes the irqfd.
    assert stats.written.p50_ns >= 50_000 * 0.98
    clab.pause()
    clab.reset_counters()
    stats = clab.completion(pio)
    assert stats.kicks == stats.handler_runs == stats.round_trip.samples == 0
    clab.resume()
    time.sleep(0.1)
    stats = dict(clab.checkpoint().completions)[pio]
    assert stats.kicks > 0
    _exact(stats)


@pytest.mark.kvm
def test_device_work_is_a_registrations_own(clab) -> None:
    """Work set on one registration moves its written stage only; the lab-wide call
    sets every completion's, and a new completion starts with it."""
    from iofdtui.engine.errors import RegistrationRejected

    pio = clab.add_registration(PIO_DOOR)
    mmio = clab.add_registration(MMIO_DOOR)
    clab.set_plan(PLAN[:2])
    clab.set_completion(pio, "msi")
    clab.set_completion(mmio, "msi")
    clab.set_device_work(40, reg_id=pio)
    clab.start()
    time.sleep(0.4)
    clab.pause()
    checkpoint = clab.checkpoint()
    assert checkpoint.holds, checkpoint
    worked, plain = (dict(checkpoint.completions)[r] for r in (pio, mmio))
    for stats in (worked, plain):
        _exact(stats)
        assert stats.kicks > 0
    assert worked.device_work_us == pytest.approx(40, abs=0.01) and plain.device_work_us == 0
    assert worked.written.p50_ns >= 40_000 * 0.98
    assert plain.written.p50_ns < worked.written.p50_ns / 4  # measured in the same run
    with pytest.raises(RegistrationRejected, match="no registration #9"):
        clab.set_device_work(5, reg_id=9)
    third = clab.add_registration(RegistrationSpec(Bus.PIO, 0x640, 1))
    with pytest.raises(RegistrationRejected, match=f"#{third} has no completion"):
        clab.set_device_work(5, reg_id=third)
    clab.set_device_work(7)
    clab.set_completion(third, "pin")
    works = [clab.completion(r).device_work_us for r in (pio, mmio, third)]
    assert works == pytest.approx([7, 7, 7], abs=0.01)


@pytest.mark.kvm
def test_completions_refuse_plainly_where_they_cannot_run(lab, lab2) -> None:
    from iofdtui.engine.errors import EngineError, RegistrationRejected

    reg = lab.add_registration(PIO_DOOR)
    with pytest.raises(EngineError, match="in-kernel irqchip") as err:
        lab.set_completion(reg, "msi")
    assert err.value.errno == E.ENOTSUP and "\n" not in str(err.value)
    with pytest.raises(RegistrationRejected, match="no registration #99"):
        lab.set_completion(99, "msi")
    with pytest.raises(ValueError, match="route"):
        lab.set_completion(reg, "irq")
    with pytest.raises(ValueError, match="vCPU"):
        lab.set_completion(reg, "msi", vcpu=1)
    with pytest.raises(ValueError, match="device work"):
        lab.set_device_work(-1)
    assert lab.completions_note is not None and "irqchip" in lab.completions_note
    reg2 = lab2.add_registration(PIO_DOOR)
    with pytest.raises(EngineError, match="irqchip"):
        lab2.set_completion(reg2, "msi")


@pytest.mark.kvm
def test_eight_pins_then_a_plain_refusal(clab) -> None:
    from iofdtui.engine.errors import EngineError

    ids = [clab.add_registration(RegistrationSpec(Bus.PIO, 0x620 + i, 1)) for i in range(9)]
    for reg_id in ids[:8]:
        clab.set_completion(reg_id, "pin")
    gsis = sorted(clab.completion(reg_id).gsi for reg_id in ids[:8])
    assert gsis == list(range(16, 24))
    with pytest.raises(EngineError, match="no completion is free") as err:
        clab.set_completion(ids[8], "pin")
    assert err.value.errno == E.ENOSPC
    clab.set_completion(ids[8], "msi")  # MSIs are not pins
    assert clab.completion(ids[8]).route == "msi"


@pytest.fixture
def clab2() -> Iterator[object]:
    """Two vCPUs with an in-kernel irqchip, not yet started."""
    from tests.conftest import need_kvm

    need_kvm()
    from iofdtui.engine.lab import Lab

    with Lab(vcpus=2, completions=True) as the_lab:
        yield the_lab


@pytest.mark.kvm
@pytest.mark.parametrize("target", [0, 1])
def test_a_completion_may_cross_to_the_other_vcpu(clab2, target: int) -> None:
    door = clab2.add_registration(PIO_DOOR)
    # vCPU 0 kicks the doorbell; vCPU 1 rings a plan of its own meanwhile.
    clab2.set_plans([PLAN[:1] + PLAN[3:], [SlotSpec(Bus.PIO, 0x710, 1, 0x1, 4)]])
    clab2.set_completion(door, "msi", vcpu=target)
    clab2.start()
    time.sleep(0.4)
    assert clab2.pause(), "both vCPUs parked themselves"
    first = clab2.checkpoint()
    clab2.resume()
    time.sleep(0.3)
    clab2.pause()
    checkpoint = clab2.checkpoint()
    assert checkpoint.holds, checkpoint
    stats = dict(checkpoint.completions)[door]
    assert stats.vcpu == target and stats.kicks > 0
    assert stats.kicks == stats.irqfd_writes == stats.handler_runs and stats.exact
    # vCPU 0 kicks; the handler runs where the MSI was sent, and nowhere else.
    assert stats.kicker == 0 and stats.crosses == (target == 1)
    assert stats.runs_on[target] == stats.handler_runs and sum(stats.runs_on) == stats.handler_runs
    # The kicks are vCPU 0's alone; vCPU 1 rang its own doorbell all along.
    kicked = next(d for d in checkpoint.doorbells if d.addr == 0x600)
    assert [v.rings for v in kicked.per_vcpu] == [kicked.rings, 0]
    other = next(d for d in checkpoint.doorbells if d.addr == 0x710)
    assert other.per_vcpu[1].rings > 0
    # A stage may come out negative only through the two vCPUs' clocks: rare.
    assert stats.round_trip.samples + stats.negative == stats.kicks
    assert stats.negative <= stats.kicks // 50
    if checkpoint.kernel is not None and first.kernel is not None:
        [halts] = [r for r in checkpoint.kernel.relations if r.stat == "halt_exits"]
        assert halts.holds, halts


@pytest.mark.kvm
def test_a_completion_needs_one_kicker(clab2) -> None:
    from iofdtui.engine.errors import EngineError
    from iofdtui.engine.model import SpecError

    door = clab2.add_registration(PIO_DOOR)
    clab2.set_plans([PLAN[:1], PLAN[:1]])  # both vCPUs ring it
    with pytest.raises(EngineError, match="both vCPUs ring #1") as err:
        clab2.set_completion(door, "msi")
    assert err.value.errno == E.EXDEV
    clab2.set_plans([PLAN[:1], PLAN[3:]])
    clab2.set_completion(door, "msi", vcpu=1)
    with pytest.raises(SpecError, match="both vCPUs would ring #1"):
        clab2.set_plan(PLAN[:1], vcpu=1)
    assert clab2.plan(1) == PLAN[3:]


@pytest.mark.kvm
@pytest.mark.parametrize("route", ["pin", "msi"])
def test_a_guest_that_stops_taking_interrupts_is_reported_not_hung(clab, route: str) -> None:
    pio = clab.add_registration(PIO_DOOR)
    clab.set_plan(PLAN[:1] + PLAN[3:])
    clab.set_completion(pio, route)
    clab.misbehave_completions("mask-lapic")
    clab.start()
    time.sleep(0.3)
    started = time.monotonic()
    # The guest waits for an interrupt that cannot come: kicked out of KVM_RUN.
    assert clab.pause(timeout=0.3) is False
    assert time.monotonic() - started < 5
    checkpoint = clab.checkpoint()
    assert not checkpoint.holds and not checkpoint.completions_exact
    stats = dict(checkpoint.completions)[pio]
    # Every kick was read and answered; the handler ran for all but the last.
    assert stats.answered and stats.in_flight == 1
    assert stats.kicks == stats.irqfd_writes == stats.handler_runs + 1
    # A restart (the LAPIC as created, the pin's entry written afresh) recovers.
    clab.misbehave_completions(None)
    clab.stop()
    clab.reset_counters()
    clab.start()
    time.sleep(0.3)
    assert clab.pause() is True
    stats = dict(clab.checkpoint().completions)[pio]
    assert stats.kicks > 0
    _exact(stats)


@pytest.mark.kvm
@pytest.mark.parametrize("route", ["pin", "msi"])
def test_a_handler_that_never_eois_is_bounded_and_counted(clab, route: str) -> None:
    pio = clab.add_registration(PIO_DOOR)
    clab.set_plan(PLAN[:1])
    clab.set_completion(pio, route)
    clab.misbehave_completions("skip-eoi")
    clab.start()
    time.sleep(0.3)
    started = time.monotonic()
    parked = clab.pause(timeout=0.3)
    assert time.monotonic() - started < 5
    stats = dict(clab.checkpoint().completions)[pio]
    if parked:
        # kvm_pvm: the next interrupt comes anyway (and a pin is resampled per
        # run, as if EOI'd): every count still balances.
        _exact(stats)
    else:
        # A LAPIC that holds the unEOI'd vector in service: the last kick waits.
        assert stats.answered and stats.in_flight == 1
