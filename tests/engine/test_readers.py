"""Reader modes (none, poll, epoll): exact accounting through churn and switches,
what each reader does to the eventfds, the figures that say why a ring costs
what it does, the isolated kick, and pinning.  Counts and ratios from one run
only."""

from __future__ import annotations

import contextlib
import os
import random
import time

import pytest
from test_accounting import _random_registration, _random_slot

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.native import ffi, lib
from iofdtui.engine.snapshot import READERS

pytestmark = pytest.mark.kvm

DOORBELL = SlotSpec(Bus.PIO, 0x3F8, 1, 0x42, 8)
WILDCARD = RegistrationSpec(Bus.PIO, 0x3F8, 1)


def _reads(lab, reg_id: int, reader: str) -> int:
    """The reader thread's reads of one registration under `reader` (the engine's count)."""
    path = ffi.new("struct lab_path_stats *")
    native = lab._regs[reg_id].native_id
    mode = ("epoll", "poll", "none").index(reader)
    assert lib.lab_read_path(lab._lab, lib.LAB_PATH_REG, native, mode, path) == 0
    return path.reads


def test_every_reader_keeps_exact_counts_through_churn_and_switches(lab) -> None:
    rng = random.Random(2026)
    lab.set_plan([_random_slot(rng) for _ in range(4)])
    lab.start()
    seen = set()
    for step in range(240):
        action = rng.random()
        if action < 0.3:
            with contextlib.suppress(RegistrationRejected):
                lab.add_registration(_random_registration(rng))
        elif action < 0.55 and lab.registrations():
            lab.remove_registration(rng.choice(list(lab.registrations())))
        elif action < 0.75:
            unique = {
                (s.bus, s.addr, s.width, s.value): s for s in (_random_slot(rng) for _ in range(4))
            }
            lab.set_plan(list(unique.values()))
        else:
            reader = rng.choice(READERS)
            lab.set_reader(reader)
            seen.add(reader)
            assert lab.snapshot().consumer == reader
        for door in lab.snapshot().doorbells:
            assert door.live_ok, (step, lab.reader, door)
        if step % 8 == 0:
            checkpoint = lab.checkpoint()
            assert checkpoint.holds, (step, lab.reader, checkpoint)
    assert seen == set(READERS)
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    assert checkpoint.attribution_ok


def test_reader_none_drains_at_every_checkpoint_and_wakes_nobody(lab) -> None:
    lab.set_plan([DOORBELL])
    reg = lab.add_registration(WILDCARD)
    lab.set_reader("none")
    lab.start()
    lab.snapshot()
    time.sleep(0.5)
    snap = lab.snapshot()
    (stats,) = snap.registrations
    assert stats.signals > 0
    # Nobody read the eventfd but the readings: no reader reads, no wake-ups.
    assert _reads(lab, reg, "none") == 0
    why = snap.why_for(stats)
    assert why is not None and why.reader_wakeups == 0
    assert snap.why is not None and snap.why.reader_wakeups == 0
    for _ in range(3):
        time.sleep(0.2)
        checkpoint = lab.checkpoint()
        (door,) = checkpoint.doorbells
        assert checkpoint.holds
        assert door.signals == door.rings > 0  # drained at the pause, every signal counted


def test_epoll_reader_wakes_and_none_does_not_on_the_same_guest(lab) -> None:
    lab.set_plan([DOORBELL])
    reg = lab.add_registration(WILDCARD)
    lab.start()
    wakeups = {}
    for reader in ("epoll", "none", "poll"):
        lab.set_reader(reader)
        lab.snapshot()
        time.sleep(0.4)
        snap = lab.snapshot()
        (stats,) = snap.registrations
        why = snap.why_for(stats)
        assert why is not None and why.signals > 0
        wakeups[reader] = why.reader_wakeups
        assert lab.checkpoint().holds
    assert wakeups["epoll"] > 0
    assert wakeups["poll"] > 0
    assert wakeups["none"] == 0
    # The engine's own per-reader read counts agree with what the snapshots said.
    assert _reads(lab, reg, "none") == 0
    assert _reads(lab, reg, "epoll") >= wakeups["epoll"]


@pytest.mark.skipif(os.cpu_count() is None, reason="needs a CPU count")
def test_a_woken_reader_on_the_vcpus_cpu_preempts_it_and_no_reader_does_not(lab) -> None:
    """vCPU and reader pinned to one CPU: each wake-up of a sleeping reader
    switches the vCPU thread out (nonvoluntary_ctxt_switches); with no
    reader that cause is gone."""
    lab.set_plan([DOORBELL])
    lab.add_registration(WILDCARD)
    cpu = min(os.sched_getaffinity(0))
    assert lib.lab_pin(lab._lab, cpu, cpu) == 0
    lab.start()
    figures = {}
    for reader in ("epoll", "none"):
        lab.set_reader(reader)
        lab.snapshot()
        time.sleep(0.6)
        snap = lab.snapshot()
        assert snap.why is not None and snap.why.rings > 0
        figures[reader] = snap.why
    epoll, none = figures["epoll"], figures["none"]
    assert epoll.reader_wakeups > 0 and none.reader_wakeups == 0
    # Most wake-ups preempt the vCPU thread; without a reader, far fewer switches.
    assert epoll.preemptions >= epoll.reader_wakeups // 2
    assert none.preemptions_per_1k_rings < epoll.preemptions_per_1k_rings / 4


def test_the_sampled_cost_agrees_with_wall_time_per_ring(lab) -> None:
    """Every ring is in a timed visit: the guest's mean cost per ring and the
    host's wall time per ring less the guest's time between visits agree."""
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 0x42, 64)])
    lab.add_registration(WILDCARD)
    lab.set_reader("none")
    lab.start()
    time.sleep(0.2)
    lab.reset_counters()
    start = lab.snapshot()
    time.sleep(1.0)
    end = lab.snapshot()
    lab.pause()
    loop_ns = lab.loop_ns_per_ring()
    (stats,) = lab.snapshot().registrations
    wall_ns = (end.taken_at - start.taken_at) * 1e9 / (end.total_rings - start.total_rings)
    assert loop_ns is not None and 0 < loop_ns < wall_ns
    assert stats.latency.rings_per_sample == 16 * 64 + 1
    assert stats.latency.mean_ns is not None
    assert 0.75 < stats.latency.mean_ns / (wall_ns - loop_ns) < 1.33


def test_paced_rings_time_the_kick_itself(lab) -> None:
    lab.set_plan([DOORBELL])
    lab.add_registration(WILDCARD)
    lab.set_pace(200)
    lab.start()
    for reader in ("none", "epoll"):
        lab.set_reader(reader)
        time.sleep(0.4)
    # Parked: a live reading can land between a visit's ring and its sample
    # (1,882 rings over 1,881 samples once under load), which is no fault.
    assert lab.pause()
    snap = lab.snapshot()
    (stats,) = snap.registrations
    assert stats.kick is not None and stats.kick.samples > 0
    assert stats.kick.rings_per_sample == 1.0
    # The stream figure in paced mode is the kick too: one ring a visit.
    assert stats.latency.samples == stats.kick.samples
    by = {c.reader: c for c in stats.by_reader}
    assert set(by) == {"none", "epoll"}
    assert by["none"].kick.samples > 0 and by["none"].stream.samples == 0
    assert lab.checkpoint().holds


def test_by_reader_keeps_each_epoch_with_its_reader(lab) -> None:
    lab.set_plan([DOORBELL])
    reg = lab.add_registration(WILDCARD)
    lab.set_reader("none")
    lab.start()
    time.sleep(0.3)
    lab.set_reader("poll")
    time.sleep(0.3)
    lab.pause()
    (stats,) = lab.snapshot().registrations
    by = {c.reader: c for c in stats.by_reader}
    assert set(by) == {"none", "poll"}
    # Every ring the registration served is in exactly one reader's figures.
    rings = sum(c.stream.samples * c.stream.rings_per_sample for c in by.values())
    assert rings == stats.rings == stats.signals
    hists = lab.reader_histograms(reg)
    assert set(hists) == {"none", "poll"}
    assert sum(n for _, n in hists["none"]) == by["none"].stream.samples


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two CPUs")
def test_pinning_puts_vcpu_and_reader_on_their_own_cpus(lab) -> None:
    lab.set_plan([DOORBELL])
    lab.add_registration(WILDCARD)
    before = os.sched_getaffinity(0)
    lab.set_pinning(True)  # undone by close() if an assertion fails first
    lab.start()
    time.sleep(0.1)
    st = ffi.new("struct lab_threads *")
    lib.lab_threads(lab._lab, st)
    assert lab.pinning is not None
    vcpu_cpu, other_cpu = max(before), min(before)
    assert os.sched_getaffinity(st.vcpu_tids[0]) == {vcpu_cpu}
    assert os.sched_getaffinity(st.reader_tid) == {other_cpu}
    assert os.sched_getaffinity(0) == {other_cpu}
    assert lab.snapshot().pinning == lab.pinning
    lab.set_pinning(False)
    assert lab.pinning is None
    assert os.sched_getaffinity(0) == before
    assert os.sched_getaffinity(st.vcpu_tids[0]) == before
    assert lab.checkpoint().holds


def test_a_bench_phase_counts_rings_as_signals_plus_exits(lab) -> None:
    """The bench's `rings` balance against its own signals and exits on every row."""
    from iofdtui.engine.experiments.bench import Phase, run_phase

    lab.set_reader("none")
    lab.start()
    for path in ("ioeventfd", "userspace", "datamatch-miss"):
        result = run_phase(lab, Phase(Bus.PIO, 1, 1, path), 0.2)
        row = result.as_json()
        assert row["conserved"]
        assert row["rings"] == row["signals"] + row["userspace_exits"] > 0, row
        assert 0 < row["window_rings"] <= row["rings"]
