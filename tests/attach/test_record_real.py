"""Record a real attach (a lab in another process, on /dev/kvm, through tracefs), then
replay the file: the replayed view shows the same per-doorbell counts as the live
view's last frame, and those are the lab's own exact checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.pilot import Pilot

from iofdtui.engine.attach.tracer import Tracer
from iofdtui.engine.model import Bus
from iofdtui.ui.attach.app import AttachApp
from iofdtui.ui.attach.replay import AttachReplayApp, open_attach_recording
from iofdtui.ui.attach.tables import TracedDoorbellsTable, doorbell_key
from tests.attach.conftest import our_instances

pytestmark = pytest.mark.kvm

ROOT = Path(__file__).resolve().parents[2]
COUNTS = slice(1, 2), slice(3, 7)  # writes; in kernel, exits, in kernel %, undecided


def _cells(table: TracedDoorbellsTable) -> dict[str, list[str]]:
    """Per doorbell, its counts as shown (not writes/s, a rate over the last interval)."""
    out = {}
    for key in table.rows:
        row = [c.plain.strip() for c in table.get_row(key)]
        out[str(key)] = row[COUNTS[0]] + row[COUNTS[1]]
    return out


async def _settled(pilot: Pilot, app: AttachApp) -> None:
    """Until three readings in a row show the same counts (the lab is parked)."""
    same, last = 0, None
    for _ in range(300):
        await pilot.pause(0.1)
        now = app._last
        if now is not None and last is not None and now.doorbells == last.doorbells:
            same += 1
            if same >= 3:
                return
        elif now is not last:
            same = 0
        last = now
    raise AssertionError("the counts never settled")


async def test_a_recorded_attach_replays_with_the_live_views_last_counts(
    tracefs: Path, tmp_path: Path
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.attach.lab_process"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    path = tmp_path / "attach.jsonl.gz"
    try:
        assert child.stdout.readline().strip() == "ready"
        with Tracer(child.pid, root=tracefs, buffer_kb=32768) as tracer:
            app = AttachApp(tracer, refresh_interval=0.2, record=path)
            async with app.run_test(size=(160, 45)) as pilot:
                child.stdin.write("go\n")
                child.stdin.flush()
                await pilot.pause(0.6)
                child.stdin.write("stop\n")
                child.stdin.flush()
                exact = json.loads(child.stdout.readline())
                await _settled(pilot, app)
                live = _cells(app.query_one(TracedDoorbellsTable))
                live_last = app._last
                assert app.recording.path == str(path)
            assert app.recording.path is None  # closed at quit
        assert our_instances(tracefs) == []
    finally:
        child.stdin.close()
        child.wait(10)
    assert exact["holds"] and live_last is not None and live_last.cost.lost == 0
    rung = 0
    for bus, addr, rings, signals, exits in exact["doorbells"]:
        door = live_last.doorbell(Bus(bus), addr)
        assert door is not None and (door.writes, door.in_kernel, door.exits) == (
            rings,
            signals,
            exits,
        )
        rung += rings
    assert rung > 1000

    recording = open_attach_recording(path)
    assert recording.header.attach is not None and recording.header.attach.pid == child.pid
    assert recording.attach_frames[-1].snapshot.doorbells == live_last.doorbells
    replay = AttachReplayApp(recording, path.name, clock=lambda: 0.0)
    async with replay.run_test(size=(160, 45)) as pilot:
        await pilot.press("end")
        await pilot.pause()
        shown = _cells(replay.query_one(TracedDoorbellsTable))
    assert shown == live and set(shown) == {doorbell_key(d) for d in live_last.doorbells}
