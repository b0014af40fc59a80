"""The tracefs instance: ours alone, removed on every path, and one line without tracefs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from iofdtui.engine.attach.errors import TraceUnavailable
from iofdtui.engine.attach.tracefs import TraceInstance, find_tracefs
from iofdtui.engine.attach.tracer import events_for
from tests.attach.conftest import our_instances

EVENTS = [("kvm", "kvm_pio", None)]


def test_not_mounted_is_one_line_with_the_fix(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    with pytest.raises(TraceUnavailable) as err:
        find_tracefs(str(mounts))
    assert "mount -t tracefs nodev /sys/kernel/tracing" in str(err.value)
    assert "\n" not in str(err.value)


def test_instance_removed_after_an_exception(tracefs: Path) -> None:
    global_events = (tracefs / "set_event").read_text()
    with pytest.raises(RuntimeError), TraceInstance(EVENTS, [os.getpid()], tracefs) as inst:
        assert (inst.path / "events/kvm/kvm_pio/enable").read_text().strip() == "1"
        assert our_instances(tracefs) == [inst.name]
        raise RuntimeError("boom")
    assert our_instances(tracefs) == []
    assert (tracefs / "set_event").read_text() == global_events  # the global buffer untouched


def test_a_missing_event_refuses_before_any_instance(tracefs: Path) -> None:
    with pytest.raises(TraceUnavailable, match="no kvm:kvm_nonesuch tracepoint"):
        TraceInstance([("kvm", "kvm_nonesuch", None)], [1], tracefs).open()
    assert our_instances(tracefs) == []


def test_killed_owner_instance_is_swept(tracefs: Path) -> None:
    # A child makes an instance and dies by SIGKILL: no cleanup runs in it.
    code = (
        "import os,signal\n"
        "from iofdtui.engine.attach.tracefs import TraceInstance\n"
        f"i = TraceInstance({EVENTS!r}, [os.getpid()]).open()\n"
        "print(i.name, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    name = done.stdout.strip()
    assert name and (tracefs / "instances" / name).is_dir()
    with TraceInstance(events_for(tracefs), [os.getpid()], tracefs):
        assert not (tracefs / "instances" / name).exists()
