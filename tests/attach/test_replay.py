"""`iofdtui replay` on an attached VM's recording: the attach view, read-only, with the
lab replay's timeline; bad files are one line and exit 2 (no tracefs, no KVM needed)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import pytest
from textual.pilot import Pilot

from iofdtui.cli import main
from iofdtui.recording.attach_frames import attach_header
from iofdtui.recording.frames import Event
from iofdtui.recording.writer import Recorder
from iofdtui.ui.attach.app import NOTE
from iofdtui.ui.attach.replay import AttachReplayApp, open_attach_recording
from iofdtui.ui.attach.tables import TracedDoorbellsTable
from iofdtui.ui.replay.timeline import Timeline
from tests.attach.fake_tracer import FakeTracer

CREATED = "2026-11-30T19:00:00Z"


def write(path: Path, frames: int = 4) -> Path:
    """`frames` fake readings 0.5 s apart; a reset event at the third."""
    tracer = FakeTracer()
    header = dataclasses.replace(attach_header(tracer.setup(), "0.1.0"), created=CREATED)
    with Recorder(path, header) as rec:
        for i in range(frames):
            events = (Event(0.5 * i, "counts reset"),) if i == 2 else ()
            rec.attach_frame(0.5 * i, tracer.snapshot(), events)
    return path


def _app(path: Path) -> AttachReplayApp:
    return AttachReplayApp(open_attach_recording(path), path.name, clock=lambda: 0.0)


def _writes(app: AttachReplayApp, key: str = "pio:3f8") -> str:
    return app.query_one(TracedDoorbellsTable).get_row(key)[1].plain.strip()


async def test_keys_move_through_the_frames_and_live_keys_are_refused(tmp_path: Path) -> None:
    app = _app(write(tmp_path / "a.jsonl.gz"))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert _writes(app) == "40,000"  # the first frame, paused
        assert "‖ paused" in str(app.query_one(Timeline).render())
        await pilot.press("end")
        await pilot.pause()
        assert _writes(app) == "160,000"
        # The rates are the live view's: against the frame before, 0.5 s earlier.
        assert app.query_one(TracedDoorbellsTable).get_row("pio:3f8")[2].plain.strip() == "80.0k"
        await pilot.press("home", "n")
        await pilot.pause()
        assert _writes(app) == "120,000"  # the frame with the reset
        assert "at 0:01.0: counts reset" in str(app.query_one("#header").render())
        await pilot.press("r", "p", "R")
        await pilot.pause()
        titles = [n.title for n in app._notifications]
        assert titles.count("Read-only recording") == 3
        assert app.recording.path is None and _writes(app) == "120,000"
        shown = {k for k, b in app.active_bindings.items() if b.binding.show}
        assert {"space", "left", "right", "n", "h", "q"} <= shown
        assert not shown & {"r", "p", "R", "f", "o"}  # the view's keys: palette and help
        await pilot.press("o")  # ... and still bound
        await pilot.pause()
        assert "sorted by writes" in str(app.query_one("#header").render())


async def test_the_help_and_palette_offer_the_timeline_not_the_live_trace(tmp_path: Path) -> None:
    from textual.widgets import Markdown

    from iofdtui.ui.attach.commands import AttachCommands
    from iofdtui.ui.attach.help import AttachHelpScreen

    app = _app(write(tmp_path / "a.jsonl"))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, AttachHelpScreen)
        text = app.screen.query_one(Markdown).source
        assert "Space play/pause" in text and "`R` record" not in text
        await pilot.press("escape")
        provider = AttachCommands(app.screen)
        titles = [hit.text async for hit in provider.discover()]
        assert "Play / pause the recording" in titles and "Reset counts" not in titles


async def test_at_80x24_the_note_timeline_and_keys_fit(tmp_path: Path) -> None:
    app = _app(write(tmp_path / "a.jsonl"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("end")
        await pilot.pause()
        note, timeline = app.query_one("#note"), app.query_one(Timeline)
        assert note.region.height == 1 and timeline.region.bottom <= 23
        assert "frame 4 of 4" in str(timeline.render())
        footer = app.query_one("Footer")
        assert footer.region.bottom == 24 and not footer.show_command_palette


def test_snapshot_replayed_160x45(snap_compare, tmp_path: Path) -> None:
    path = write(tmp_path / "attach.jsonl")

    async def at_the_end(pilot: Pilot) -> None:
        await pilot.press("end")
        await pilot.pause()

    assert snap_compare(_app(path), run_before=at_the_end, terminal_size=(160, 45))


def test_the_live_note_is_replaced_by_what_was_recorded(tmp_path: Path) -> None:
    from iofdtui.ui.attach.replay import replay_note

    rec = open_attach_recording(write(tmp_path / "a.jsonl"))
    note = replay_note(rec, "a.jsonl").plain
    assert "pid 4242 (qemu-system-x86) on kvm_intel, kernel 6.18.0-test" in note
    assert "2026-11-30 19:00 UTC" in note and NOTE not in note


# ------------------------------------------------------------------ the CLI


def _one_line(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    assert code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _damage(tmp_path: Path, how: str) -> tuple[Path, str]:
    path = write(tmp_path / "a.jsonl")
    lines = _lines(path)
    if how == "corrupt":
        lines[2] = lines[2][:40] + "}{" + lines[2][44:]
        expected = "line 3: not JSON"
    elif how == "negative":
        lines[1] = lines[1].replace('"writes":80001', '"writes":-80001', 1)
        expected = "line 2: snapshot.doorbells[0].writes: -80001 is negative"
    elif how == "huge":
        lines[1] = lines[1].replace('"addr":1016', '"addr":99999999999999999999999', 1)
        expected = "line 2: snapshot.doorbells[1].addr: 23-digit integer does not fit"
    elif how == "vector":
        lines[3] = lines[3].replace('"vector":64', '"vector":4096', 1)
        expected = "line 4: snapshot.interrupts: vector 4096 is not 0-255"
    elif how == "header only":
        lines = lines[:1]
        expected = "the recording has a header but no frame: nothing to replay"
    else:
        raise AssertionError(how)
    path.write_text("\n".join(lines) + "\n")
    return path, expected


@pytest.mark.parametrize("how", ["corrupt", "negative", "huge", "vector", "header only"])
def test_bad_attach_recordings_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, how: str
) -> None:
    path, expected = _damage(tmp_path, how)
    commands = [["replay", str(path)]]
    if how != "header only":  # export writes no rows of no frame (as for a lab's)
        commands.append(["export", str(path), "--csv", "-"])
    for argv in commands:
        line = _one_line(capsys, argv)
        assert line.startswith("iofdtui") and expected in line, line


def test_a_truncated_gzip_attach_recording_replays_up_to_its_last_whole_line(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "a.jsonl.gz", frames=6)
    data = gzip.compress(path.read_bytes() and gzip.decompress(path.read_bytes()))
    path.write_bytes(data[: len(data) * 2 // 3])
    rec = open_attach_recording(path)
    assert 1 <= len(rec.attach_frames) < 6 and rec.notes


def test_follow_refuses_an_attach_recording_in_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write(tmp_path / "a.jsonl")
    line = _one_line(capsys, ["replay", "--follow", str(path)])
    assert line == (
        f"iofdtui: {path}: an attached VM's recording: --follow plays a lab's only; "
        "replay it without --follow"
    )


def test_export_writes_a_row_per_doorbell_per_frame(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import csv
    import io
    import json

    path = write(tmp_path / "a.jsonl.gz", frames=3)
    assert main(["export", str(path), "--csv", "-"]) == 0
    table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(table) == 6  # two doorbells, three frames
    pio = [r for r in table if r["addr"] == "0x03f8"]
    assert [r["writes"] for r in pio] == ["40000", "80000", "120000"]
    assert [r["writes_per_s"] for r in pio] == ["", "80000.0", "80000.0"]
    mmio = table[4]
    assert (mmio["bus"], mmio["addr"], mmio["pid"]) == ("mmio", "0xfe000000", "4242")
    assert (mmio["in_kernel"], mmio["exits"], mmio["undecided"]) == ("120000", "120000", "1")
    out = tmp_path / "a.json"
    assert main(["export", str(path), "--json", str(out)]) == 0
    assert "exported 6 rows from 3 frames" in capsys.readouterr().err
    doc = json.loads(out.read_text())
    assert doc["recording"]["attach"]["comm"] == "qemu-system-x86"
    assert doc["doorbells"][1]["writes_per_s"] is None and len(doc["doorbells"]) == 6
