"""Attach to a lab in another process, as a user attaches to a VMM: over a window
bracketed by that lab's own pauses, per doorbell, the traced writes are its guest
rings, the in-kernel ones its eventfd signals and the exits its userspace exits,
exactly; and the tracefs instance is gone afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iofdtui.engine.attach.tracer import Tracer
from iofdtui.engine.model import Bus
from tests.attach.conftest import our_instances

pytestmark = pytest.mark.kvm

ROOT = Path(__file__).resolve().parents[2]


def test_a_separate_lab_process_is_counted_exactly(tracefs: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.attach.lab_process"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "ready"
        with Tracer(child.pid, root=tracefs, buffer_kb=32768) as tracer:
            child.stdin.write("go\n")
            child.stdin.flush()
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                time.sleep(0.1)
                tracer.poll()
            child.stdin.write("stop\n")
            child.stdin.flush()
            exact = json.loads(child.stdout.readline())
            tracer.poll(final=True)
            traced = tracer.snapshot()
        assert our_instances(tracefs) == []
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(10)
    assert exact["holds"]
    assert traced.cost.lost == 0, "the buffer overflowed: the test cannot compare"
    rung = 0
    for bus, addr, rings, signals, exits in exact["doorbells"]:
        seen = traced.doorbell(Bus(bus), addr)
        assert seen is not None, f"{bus} {addr:#x} rang but nothing was traced"
        assert (seen.writes, seen.in_kernel, seen.exits, seen.undecided) == (
            rings,
            signals,
            exits,
            0,
        ), f"{bus} {addr:#x}"
        rung += rings
    assert rung > 1000
