"""`R` in the attached VM's app, on a fake tracer: it records every reading shown, says
so in the header, and a failed write is one line while tracing goes on."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from textual.pilot import Pilot

from iofdtui.recording.reader import read_recording
from iofdtui.ui.attach.app import AttachApp
from iofdtui.ui.attach.header import AttachHeader
from iofdtui.ui.attach.tables import TracedDoorbellsTable
from tests.attach.fake_tracer import FakeTracer


async def _readings(pilot: Pilot, n: int) -> None:
    app = pilot.app
    for _ in range(400):
        await pilot.pause(0.02)
        if app.tracer.readings >= n and app.query_one(TracedDoorbellsTable).row_count:  # type: ignore[attr-defined]
            return
    raise AssertionError(f"fewer than {n} readings")


async def test_r_records_every_reading_and_r_again_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tracer = FakeTracer()
    app = AttachApp(tracer, refresh_interval=0.05)
    async with app.run_test(size=(160, 45)) as pilot:
        await _readings(pilot, 1)
        await pilot.press("R")
        await pilot.pause()
        path = app.recording.path
        assert path is not None and Path(path).name.startswith("iofdtui-attach-")
        await pilot.press("r")  # a reset, recorded as an event
        first = tracer.readings
        await _readings(pilot, first + 3)
        header = str(app.query_one(AttachHeader).render())
        assert header.startswith(f"● REC {Path(path).name} · ATTACHED")
        await pilot.press("R")
        await pilot.pause()
        assert app.recording.path is None
        last = app._last
    rec = read_recording(tmp_path / Path(path).name)
    assert rec.header.attach == tracer.setup() and rec.header.source == "attach"
    assert len(rec.attach_frames) >= 3
    events = [e.text for f in rec.attach_frames for e in f.events]
    assert events[:2] == [f"recording to {path}", "counts reset"]
    # The last reading shown is in the file (a newer one may have been written
    # before its message reached the screen), and the readings follow each other.
    assert last in [f.snapshot for f in rec.attach_frames[-2:]]
    # After the reset's frame the readings follow each other (the fake's 0.5 s apart).
    [at_reset] = [
        i for i, f in enumerate(rec.attach_frames) if f.events[-1:] and "reset" in f.events[-1].text
    ]
    elapsed = [f.snapshot.elapsed_s for f in rec.attach_frames[at_reset + 1 :]]
    assert elapsed and all(b - a == 0.5 for a, b in itertools.pairwise(elapsed))


async def test_a_recording_that_cannot_be_written_is_one_line_and_tracing_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = AttachApp(FakeTracer(), refresh_interval=0.05, record=tmp_path / "no" / "such.jsonl")
    async with app.run_test() as pilot:
        await _readings(pilot, 2)
        assert app.recording.path is None
        [note] = [n for n in app._notifications if n.title == "Not recording"]
        assert note.message.startswith(f"cannot write {tmp_path}/no/such.jsonl: ")
        assert "create the directory first, or record elsewhere" in note.message
        assert "\n" not in note.message


class _FullDisk:
    """A file whose every write fails as a full disk's does."""

    def write(self, data: bytes) -> int:
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_a_disk_that_fills_mid_recording_stops_it_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tracer = FakeTracer()
    app = AttachApp(tracer, refresh_interval=0.05, record=tmp_path / "r.jsonl")
    async with app.run_test(size=(160, 45)) as pilot:
        await _readings(pilot, 2)
        assert app.recording.path is not None
        app.recording._recorder._file = _FullDisk()  # type: ignore[union-attr]
        await _readings(pilot, tracer.readings + 3)
        assert app.recording.path is None
        [note] = [n for n in app._notifications if n.title == "Recording stopped"]
        assert note.message == (
            f"cannot write {tmp_path}/r.jsonl: No space left on device; "
            "free some space, or record to another disk"
        )
        header = str(app.query_one(AttachHeader).render())
        assert header.startswith("ATTACHED") and "REC" not in header  # tracing goes on
    assert read_recording(tmp_path / "r.jsonl").attach_frames  # what was written reads


def test_the_header_names_the_file_from_100_columns_and_marks_rec_under() -> None:
    from iofdtui.ui.attach.header import header_text

    snap = FakeTracer().snapshot()
    wide = header_text(snap, None, None, "/some/dir/a.jsonl.gz", 100).plain
    narrow = header_text(snap, None, None, "/some/dir/a.jsonl.gz", 99).plain
    assert wide.startswith("● REC a.jsonl.gz · ATTACHED")
    assert narrow.startswith("● REC · ATTACHED")
    assert header_text(snap, None, None).plain.startswith("ATTACHED")
