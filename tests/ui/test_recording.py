"""The app's recording: `--record FILE`, `R`, the header's mark, a failing disk (fake lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from iofdtui.recording.reader import read_recording
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.widgets.lab_header import LabHeader
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import FakeLab, fixed_clock


def app_recording(record: Path | None = None) -> IofdApp:
    return make_app(FakeLab, refresh_interval=0.05, clock=fixed_clock, record=record)


def header_text(app: IofdApp) -> str:
    return app.main.query_one(LabHeader).render().plain


def frames_in(path: Path) -> int:
    return len(path.read_bytes().splitlines()) - 1 if path.exists() else 0


async def test_record_flag_records_every_reading_and_event(tmp_path: Path) -> None:
    path = tmp_path / "session.jsonl"
    app = app_recording(path)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: frames_in(path) >= 3)
        assert header_text(app).startswith("● REC session.jsonl · iofdtui")
        await pilot.press("r")  # reset: an event-log line goes into the next frame
        await wait_for(pilot, lambda: b"counters reset" in path.read_bytes())
        await pilot.press("R")
        await wait_for(pilot, lambda: app.session.recording.path is None)
        await wait_for(pilot, lambda: "● REC" not in header_text(app))
        log = app.main.query_one("#log").entries
        assert any("recording saved:" in str(e) and str(path) in str(e) for e in log)
    rec = read_recording(path)
    assert rec.header.source == "app" and rec.notes == []
    assert len(rec.frames) >= 3
    texts = [e.text for f in rec.frames for e in f.events]
    assert texts[0] == f"recording to {path}"
    assert texts[1].startswith("VM up: kvm_pvm on 6.18.44")
    assert "registered #1 pio 0x03f8/1 any value (demo)" in texts
    assert "counters reset" in texts
    # The selected registration's histograms, as the detail pane draws them.
    selected = app.session.selected
    assert selected is not None
    assert set(rec.frames[-1].histograms.readers[selected]) >= {"epoll"}
    assert rec.frames[-1].histograms.baselines


async def test_r_records_to_a_timestamped_file_here_and_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = app_recording()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert "REC" not in header_text(app)
        await pilot.press("R")
        name = "iofdtui-20260101-120000.jsonl.gz"  # the fixed clock's time
        await wait_for(pilot, lambda: app.session.recording.path == name)
        await wait_for(pilot, lambda: header_text(app).startswith("● REC · iofdtui"))
        await wait_for(pilot, lambda: len(read_recording(tmp_path / name).frames) >= 2)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.session.recording.path is None)
        first = read_recording(tmp_path / name)
        await pilot.press("R")  # again in the same second: a new file, the first one kept
        second = "iofdtui-20260101-120000-2.jsonl.gz"
        await wait_for(pilot, lambda: app.session.recording.path == second)
        await wait_for(pilot, lambda: frames_in(tmp_path / second) >= 1)
    assert read_recording(tmp_path / name) == first
    # Quitting while recording closes the file whole (no "ends early" note).
    again = read_recording(tmp_path / second)
    assert again.notes == [] and len(again.frames) >= 1


async def test_a_full_disk_stops_recording_in_one_line_and_the_session_goes_on(
    tmp_path: Path,
) -> None:
    app = app_recording(Path("/dev/full"))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        log = app.main.query_one("#log").entries
        await wait_for(pilot, lambda: any("not recording: cannot write" in str(e) for e in log))
        assert app.session.recording.path is None
        # Now a recording whose disk fills up mid-way.
        path = tmp_path / "x.jsonl"
        app.session.recording.start(path, app.snapshot.machine)
        await wait_for(pilot, lambda: frames_in(path) >= 1)
        app.session.recording._recorder._file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115
        await wait_for(pilot, lambda: app.session.recording.path is None)
        await wait_for(
            pilot,
            lambda: any(
                "recording failed: cannot write" in str(e) and "No space left" in str(e)
                for e in log
            ),
        )
        shown = app.snapshot
        await wait_for(pilot, lambda: app.snapshot is not shown)  # readings go on


class TestRecordingHeader:
    """The header's mark while recording, at a wide and a narrow width (SVG snapshots)."""

    @staticmethod
    def app(path: Path) -> IofdApp:
        return make_app(FakeLab, refresh_interval=3600.0, clock=fixed_clock, record=path)

    @staticmethod
    async def live(pilot) -> None:  # type: ignore[no-untyped-def]
        from tests.ui.conftest import until_live

        await until_live(pilot)

    def test_160x45(self, snap_compare, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.chdir(tmp_path)  # the event log names the file: the same in every run
        app = self.app(Path("session.jsonl.gz"))
        assert snap_compare(app, run_before=self.live, terminal_size=(160, 45))

    def test_80x24(self, snap_compare, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.chdir(tmp_path)
        app = self.app(Path("session.jsonl.gz"))
        assert snap_compare(app, run_before=self.live, terminal_size=(80, 24))
