"""Record on /dev/kvm, replay anywhere: a real headless recording (`iofdtui record`, ~2 s)
shows, frame by frame, the counts it recorded, and the checkpoint's exact ✓."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from iofdtui.engine.snapshot import Snapshot
from iofdtui.recording.reader import read_recording
from iofdtui.ui.conservation_text import check_summary
from iofdtui.ui.replay.app import ReplayApp, open_recording
from iofdtui.ui.widgets.doorbells_table import DoorbellsTable, doorbell_key
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import fixed_clock


def _cells(snap: Snapshot, app: ReplayApp) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """What the tables show: signals per registration, (rings, signals, exits) per doorbell."""
    regs = app.main.query_one(RegistrationsTable)
    doors = app.main.query_one(DoorbellsTable)
    shown_regs = {key: regs.get_cell(key, "signals").plain.strip() for key in regs.rows}
    shown_doors = {
        key: tuple(doors.get_cell(key, col).plain.strip() for col in ("rings", "signals", "exits"))
        for key in doors.rows
    }
    return shown_regs, shown_doors


@pytest.mark.kvm
async def test_a_recording_replays_with_the_counts_it_recorded(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl.gz"
    made = subprocess.run(
        [sys.executable, "-m", "iofdtui", "record", str(path), "--seconds", "2", "--every", "0.25"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    recorded = read_recording(path).frames
    assert len(recorded) >= 6
    final = recorded[-1].snapshot.checkpoint
    assert final is not None and final.holds, "the recording ends on an exact checkpoint"

    clock = [1000.0]  # playback never moves by itself: every frame is sought
    app = ReplayApp(
        open_recording(path, clock=lambda: clock[0]), refresh_interval=0.02, clock=fixed_clock
    )
    async with app.run_test(size=(160, 45)) as pilot:
        for index, frame in enumerate(recorded):
            app.replay.seek_frame(index)
            want = frame.snapshot
            await wait_for(pilot, lambda want=want: app.snapshot == want)
            await pilot.pause()
            regs, doors = _cells(want, app)
            assert regs == {str(r.id): f"{r.signals:,}" for r in want.registrations}, index
            assert doors == {
                doorbell_key(d.bus, d.addr): (f"{d.rings:,}", f"{d.signals:,}", f"{d.exits:,}")
                for d in want.doorbells
            }, index
            subtitle = app.main.query_one(DoorbellsTable).border_subtitle
            assert subtitle == check_summary(want), index
        # The last frame: the exact checkpoint's verdict, as the live app gave it.
        assert "✓ all balance" in str(subtitle)
        table = app.main.query_one(DoorbellsTable)
        assert all(table.get_cell(key, "check").plain.strip() == "✓" for key in table.rows)
