"""The traced counts against the lab's, where the truth is known: a real lab in
this process, traced by attaching to this process's own pid.

Over a window between two exact checkpoints, per doorbell: traced writes =
guest rings, in the kernel = eventfd signals, exits = the run loop's exits;
per value and per vCPU thread too.
"""

from __future__ import annotations

import os
import time

import pytest

from iofdtui.engine.attach.tracer import Tracer
from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.engine.native_reads import read_threads
from tests.attach.conftest import our_instances

pytestmark = pytest.mark.kvm

# Enough for the whole window per CPU, so a loaded machine's slow reader loses nothing.
BUFFER_KB = 32768


def _traced_window(lab: object, root: object, seconds: float) -> tuple[object, object]:
    """Ring for `seconds` between two exact pauses, traced; (lab snapshot, traced snapshot)."""
    lab.start()
    time.sleep(0.05)
    assert lab.pause()
    lab.reset_counters()
    with Tracer(os.getpid(), root=root, buffer_kb=BUFFER_KB) as tracer:
        lab.resume()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.1)
            tracer.poll()
        assert lab.pause(), "the guest did not park by handshake"
        tracer.poll(final=True)
        traced = tracer.snapshot()
    assert lab.checkpoint().holds
    return lab.snapshot(), traced


def _assert_doorbells_equal(snap: object, traced: object) -> None:
    assert traced.cost.lost == 0, "the buffer overflowed: the test cannot compare"
    for door in snap.doorbells:
        seen = traced.doorbell(door.bus, door.addr)
        assert seen is not None, f"{door.bus} {door.addr:#x} rang but nothing was traced"
        assert (seen.writes, seen.in_kernel, seen.exits, seen.undecided) == (
            door.rings,
            door.signals,
            door.exits,
            0,
        ), f"{door.bus} {door.addr:#x}"


def test_demo_counts_equal_the_labs_exact_checkpoint(lab: object, tracefs: object) -> None:
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    snap, traced = _traced_window(lab, tracefs, 0.4)
    assert sum(d.rings for d in snap.doorbells) > 1000
    _assert_doorbells_equal(snap, traced)
    # By value: the MMIO doorbell's trigger 0x1 is served in the kernel, 0x2 exits.
    door = traced.doorbell(Bus.MMIO, 0xFE00_0000)
    by_value = {v.value: (v.in_kernel, v.exits) for v in door.by_value}
    lab_door = next(d for d in snap.doorbells if d.addr == 0xFE00_0000)
    misses = {value: n for _w, value, n in lab_door.exits_by_value}
    assert by_value[0x2] == (0, misses[0x2])
    assert by_value[0x1] == (lab_door.signals, 0)
    # Only the vCPU thread wrote; the instance is gone once the tracer closes.
    assert traced.threads == tuple(t for t in read_threads(lab._lab, 1)[1] if t)
    assert traced.unmatched_exits == 0
    assert our_instances(tracefs) == []


def test_two_vcpus_per_thread_counts(lab2: object, tracefs: object) -> None:
    for spec in demo_registrations():
        lab2.add_registration(spec)
    lab2.set_plans([demo_plan(), [SlotSpec(Bus.PIO, 0x3F8, 1, 0x7, 8)]])
    snap, traced = _traced_window(lab2, tracefs, 0.4)
    _assert_doorbells_equal(snap, traced)
    tids = read_threads(lab2._lab, 2)[1]
    door = traced.doorbell(Bus.PIO, 0x3F8)
    lab_door = next(d for d in snap.doorbells if d.addr == 0x3F8)
    per_thread = {t.tid: t.writes for t in door.by_thread}
    assert per_thread == {tids[v.vcpu]: v.rings for v in lab_door.per_vcpu if v.rings}
