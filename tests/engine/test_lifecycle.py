"""Start/stop leaves nothing behind; the bench's JSON is what the README says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

pytestmark = pytest.mark.kvm


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_fifty_start_stop_cycles_leak_no_fd_or_thread() -> None:
    from iofdtui.engine.lab import Lab

    with Lab():  # warm: first-use allocations (signal handler, module state)
        pass
    fds, threads, py_threads = _fds(), _threads(), threading.active_count()
    for cycle in range(50):
        lab = Lab()
        lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 1), SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 1, 1)])
        lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
        lab.start()
        time.sleep(0.002)
        if cycle % 2:
            lab.pause()
        lab.stop()
        lab.start()
        lab.close()
    assert (_fds(), _threads(), threading.active_count()) == (fds, threads, py_threads)


def test_bench_json_has_the_documented_fields() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--seconds", "0.05", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    doc = json.loads(done.stdout)
    machine = doc["machine"]
    for key in ("kernel", "kvm_module", "tsc_khz", "emulated", "timer_overhead_ns"):
        assert key in machine
    paths = {(r["bus"], r["width"], r["path"]) for r in doc["results"]}
    assert ("pio", 1, "ioeventfd") in paths and ("mmio", 8, "userspace") in paths
    assert ("mmio", 4, "datamatch-miss") in paths
    for row in doc["results"]:
        assert set(row["latency_ns"]) == {"p50", "p99", "mean"}
        assert row["rings"] > 0 and row["conserved"] is True, row
        if row["path"] == "ioeventfd":
            assert row["signals"] > 0 and row["userspace_exits"] == 0
        else:
            assert row["signals"] == 0


def test_a_closed_lab_refuses_calls_instead_of_crashing() -> None:
    from iofdtui.engine.errors import EngineError
    from iofdtui.engine.lab import Lab

    lab = Lab()
    lab.start()
    lab.close()
    lab.close()
    assert lab.state == "closed"
    with pytest.raises(EngineError, match="closed"):
        lab.snapshot()
    with pytest.raises(EngineError, match="closed"):
        lab.checkpoint()


def test_the_consumer_mode_switches_and_counts_stay_exact(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 1, 4)])
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.start()
    for mode in ("poll", "epoll", "poll"):
        lab.set_consumer(mode)
        time.sleep(0.1)
        checkpoint = lab.checkpoint()
        assert checkpoint.conserved and checkpoint.attribution_ok
        assert lab.snapshot().consumer == mode
    with pytest.raises(ValueError, match="epoll"):
        lab.set_consumer("spin")
