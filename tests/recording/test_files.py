"""Writing and reading recording files: round trips, tailing, and damaged files."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import threading
import time
from pathlib import Path

import pytest

from iofdtui.recording import reader
from iofdtui.recording.frames import SCHEMA, Frame, Header, Histograms
from iofdtui.recording.reader import RecordingError, follow, read_recording
from iofdtui.recording.writer import Recorder, RecordWriteError, new_header
from tests.recording.samples import EVENTS, MACHINE, histograms, rich_snapshot


def write_sample(path: Path, frames: int = 3) -> list[Frame]:
    """A recording of `frames` frames; the histograms change at frames 0 and 2 only."""
    written = []
    with Recorder(path, new_header(MACHINE, "headless", "a test")) as rec:
        for i in range(frames):
            snap = rich_snapshot(100.0 + i)
            hists = histograms()
            if i >= 2:
                hists = dataclasses.replace(hists, wakes={1: ((1.0, 2),)})
            rec.frame(0.5 * i, snap, hists, EVENTS if i == 1 else ())
            written.append(Frame(0.5 * i, snap, hists, EVENTS if i == 1 else ()))
    return written


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    written = write_sample(path)
    rec = read_recording(path)
    assert rec.header.source == "headless" and rec.header.schema == SCHEMA
    assert rec.header.machine == MACHINE and rec.header.note == "a test"
    assert rec.frames == written
    assert rec.notes == []
    if name.endswith(".gz"):
        assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_histograms_are_written_only_when_they_change(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_sample(path, frames=4)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert ["histograms" in line for line in lines[1:]] == [True, False, True, False]
    # Frame 2 changed one histogram: only that one is on its line.
    assert lines[3]["histograms"] == {
        "registrations": [],
        "wakes": [[1, [[1.0, 2]]]],
        "baselines": [],
        "readers": [],
    }
    # ... and the reader carries the rest forward.
    frames = read_recording(path).frames
    assert frames[3].histograms.registrations == histograms().registrations
    assert frames[3].histograms.wakes == {1: ((1.0, 2),)}


def test_follow_sees_each_frame_as_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl.gz"
    seen: list[object] = []
    go = threading.Event()

    def tail() -> None:
        for item in follow(path, poll_s=0.01, timeout_s=2.0):
            seen.append(item)
            go.set()

    reader = threading.Thread(target=tail)
    reader.start()
    rec = Recorder(path, new_header(MACHINE, "app"))
    for i in range(3):
        go.clear()
        rec.frame(float(i), rich_snapshot(), Histograms())
        # The file stays open: each frame must arrive before the next is written.
        assert go.wait(2.0), f"frame {i} not seen while the file is open"
    rec.close()
    reader.join()
    assert isinstance(seen[0], Header)
    assert [f.at for f in seen[1:]] == [0.0, 1.0, 2.0]


def test_follow_stops_at_once_when_told_while_waiting_for_a_line(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    write_sample(path, frames=1)
    stop = threading.Event()
    seen: list[object] = []

    def tail() -> None:
        # poll_s of a minute: only the stop event can end the wait in time.
        seen.extend(follow(path, poll_s=60.0, stop=stop))

    reader = threading.Thread(target=tail, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5.0
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(seen) == 2  # header and frame, then it waits for the next line
    stop.set()
    reader.join(5.0)
    assert not reader.is_alive()


def test_follow_stops_while_waiting_for_the_file_too(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    assert list(follow(tmp_path / "not-yet.jsonl", poll_s=60.0, stop=stop)) == []


def test_follow_is_bounded_as_reading_whole_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "long.jsonl"
    write_sample(path, frames=5)
    monkeypatch.setattr(reader, "MAX_FRAMES", 3)
    seen: list[object] = []
    with pytest.raises(RecordingError, match="more than 3 frames") as caught:
        seen.extend(follow(path, poll_s=0.01, timeout_s=0.2))
    assert len(seen) == 4  # the header and three frames, handed on before the bound
    assert "line 5" in str(caught.value)


def test_follow_never_yields_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    write_sample(path, frames=1)
    whole = path.read_bytes()
    frame_line = whole.splitlines(keepends=True)[1]
    with path.open("ab") as f:
        f.write(frame_line[:100])
        f.flush()
        items = []
        gen = follow(path, poll_s=0.01, timeout_s=0.2)
        items = list(gen)  # the cut line is never complete: not yielded
        assert len(items) == 2
        f.write(frame_line[100:])
    assert len(list(follow(path, poll_s=0.01, timeout_s=0.1))) == 3


def test_a_write_error_is_one_line(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    with pytest.raises(RecordWriteError) as caught:
        Recorder("/dev/full", new_header(MACHINE, "app"))
    assert str(caught.value) == (
        "cannot write /dev/full: No space left on device; "
        "free some space, or record to another disk"
    )
    denied = tmp_path / "ro"
    denied.mkdir(mode=0o500)
    if os.geteuid() != 0:
        with pytest.raises(RecordWriteError, match="Permission denied; check the directory"):
            Recorder(denied / "x.jsonl", new_header(MACHINE, "app"))


def test_a_write_error_mid_recording_closes_it(tmp_path: Path) -> None:
    rec = Recorder(tmp_path / "x.jsonl", new_header(MACHINE, "app"))
    rec._file = open("/dev/full", "wb", buffering=0)  # noqa: SIM115 (the disk fills up now)
    with pytest.raises(RecordWriteError, match="No space left on device"):
        rec.frame(0.0, rich_snapshot())
    assert rec.closed
    with pytest.raises(ValueError, match="is closed"):
        rec.frame(1.0, rich_snapshot())


# ------------------------------------------------------------ damaged files


TOO_BIG = '"total_rings":1' + "0" * 30


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def rewrite(path: Path, lines: list[str], end: str = "\n") -> None:
    path.write_text("\n".join(lines) + end)


def damaged(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "rec.jsonl"
    write_sample(path)
    rewrite(path, change(lines_of(path)))
    return path


def error_of(path: Path) -> RecordingError:
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    text = str(caught.value)
    assert "\n" not in text and "Traceback" not in text
    return caught.value


def test_a_last_line_cut_short_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    write_sample(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 500])
    rec = read_recording(path)
    assert len(rec.frames) == 2
    assert rec.notes == ["line 4 cut short (a recording stopped mid-write): skipped"]


def test_a_gzip_stream_cut_short_reads_up_to_its_last_whole_line(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    rec = Recorder(path, new_header(MACHINE, "app"))
    for i in range(3):
        rec.frame(float(i), rich_snapshot())
    # Killed before close(): no gzip trailer, but every line was sync-flushed.
    rec._file.fileobj.flush()  # type: ignore[union-attr]
    got = read_recording(path)
    assert len(got.frames) == 3
    assert got.notes == [
        "the compressed stream ends early (a recording stopped mid-write): read up to line 4"
    ]
    rec.close()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda ls: [*ls[:2], "garbage {", *ls[2:]],
            "line 3: not JSON (Expecting value: line 1 column 1 (char 0)); "
            "the recording is damaged",
        ),
        (
            lambda ls: [ls[0].replace('"schema":1', '"schema":0'), *ls[1:]],
            "line 1: the header has no schema number: the file is not an iofdtui recording",
        ),
        (
            lambda ls: [ls[0].replace('"schema":1', '"schema":3'), *ls[1:]],
            "line 1: written by a newer iofdtui (schema 3, this reads up to 2): "
            "upgrade iofdtui to read it",
        ),
        (
            lambda ls: ['{"hello": "world"}', *ls[1:]],
            "line 1: no header: the file is not an iofdtui recording",
        ),
        (
            lambda ls: [
                *ls[:2],
                ls[2].replace('"total_rings":', '"total_rings":1' + "0" * 30 + ',"x":'),
                *ls[3:],
            ],
            "line 3: snapshot: unknown field 'x' in Snapshot; the recording is damaged",
        ),
        (
            lambda ls: [
                *ls[:2],
                ls[2].replace('"total_rings":673569', '"total_rings":1' + "0" * 30),
                *ls[3:],
            ],
            "line 3: snapshot.total_rings: 31-digit integer does not fit in 64 bits; "
            "the recording is damaged",
        ),
        (
            lambda ls: [
                *ls[:2],
                ls[2].replace('"total_rings":673569', '"total_rings":"many"'),
                *ls[3:],
            ],
            "line 3: snapshot.total_rings: expected an integer, found a string; "
            "the recording is damaged",
        ),
        (
            lambda ls: [*ls[:2], ls[2].replace('"signals":134919', '"signals":1.5', 1), *ls[3:]],
            "line 3: snapshot.registrations[0].signals: expected an integer, found a number; "
            "the recording is damaged",
        ),
        (
            lambda ls: [*ls[:3], ls[2].replace('"at":0.5', '"at":0.25'), *ls[3:]],
            "line 4: frame time 0.25 s is not after the previous frame's (0.5 s); "
            "the recording is damaged",
        ),
        (
            lambda ls: [*ls[:2], ls[2].replace('"severity":"error"', '"severity":"fatal"')],
            "line 3: event severity 'fatal' is not one of information, warning, error; "
            "the recording is damaged",
        ),
        (
            lambda ls: [*ls[:2], '{"kind": "video"}'],
            "line 3: not a frame (kind 'video'); the recording is damaged",
        ),
        (
            lambda ls: [*ls[:2], "NaN"],
            "line 3: not JSON (NaN is not JSON); the recording is damaged",
        ),
    ],
)
def test_damaged_files_give_one_line_with_the_line_number(tmp_path: Path, change, expected) -> None:  # type: ignore[no-untyped-def]
    assert str(error_of(damaged(tmp_path, change))) == expected


def test_not_a_recording(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert str(error_of(empty)) == "line 1: the file is empty: the file is not an iofdtui recording"
    png = tmp_path / "x.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe")
    assert error_of(png).line == 1
    missing = tmp_path / "nope.jsonl"
    assert str(error_of(missing)) == f"{missing}: no such file; check the name"
    assert str(error_of(tmp_path)) == f"{tmp_path} is a directory; name a recording file"


def test_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    write_sample(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)  # zeroes in the deflate stream
    path.write_bytes(bytes(data))
    err = error_of(path)
    assert err.line is not None and err.line >= 2
    assert "the gzip data is corrupt" in str(err)


def test_a_huge_line_is_refused_without_reading_it_whole(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from iofdtui.recording import reader

    monkeypatch.setattr(reader, "MAX_LINE_BYTES", 1 << 20)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(b'{"kind":"header"' + b" " * (64 << 20))  # 64 MiB of spaces, no newline
    started = time.monotonic()
    err = error_of(path)
    assert err.line == 1 and "longer than 1 MiB" in str(err)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("name", ["fuzz.jsonl", "fuzz.jsonl.gz"])
def test_random_damage_is_a_recording_error_or_a_recording(tmp_path: Path, name: str) -> None:
    """Flipped, cut and inserted bytes anywhere: never anything but a RecordingError line."""
    import random

    path = tmp_path / name
    write_sample(path, frames=3)
    good = path.read_bytes()
    rng = random.Random(12)
    errors = 0
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            match rng.randrange(3):
                case 0:
                    data[at] = rng.randrange(256)
                case 1:
                    del data[at : at + rng.randint(1, 200)]
                case _:
                    data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 9)))
        path.write_bytes(bytes(data))
        try:
            read_recording(path)
        except RecordingError as err:
            errors += 1
            assert "\n" not in str(err) and str(err)
    assert errors > 50  # most damage is found


def test_a_recording_too_large_to_hold_is_refused(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from iofdtui.recording import reader

    path = tmp_path / "long.jsonl"
    write_sample(path, frames=5)
    monkeypatch.setattr(reader, "MAX_TOTAL_BYTES", 30_000)
    err = error_of(path)
    assert err.line == 5 and "too large to read whole" in str(err)
    monkeypatch.setattr(reader, "MAX_TOTAL_BYTES", 1 << 30)
    monkeypatch.setattr(reader, "MAX_FRAMES", 2)
    assert error_of(path).line == 4


def test_a_recording_made_with_other_snapshot_fields_says_so(tmp_path: Path) -> None:
    from iofdtui.recording.codec import shape

    path = tmp_path / "old.jsonl"
    write_sample(path, frames=2)
    lines = lines_of(path)
    assert json.loads(lines[0])["shape"] == shape(Frame)
    # As a version whose rows had a `baseline` would have written it.
    old = lines[1].replace('"removed":false,', '"removed":false,"baseline":null,', 1)
    rewrite(path, [lines[0].replace(shape(Frame), "0123456789ab"), old])
    assert str(error_of(path)) == (
        "line 2: snapshot.registrations[0]: unknown field 'baseline' in RegistrationStats: "
        "it was made by iofdtui 0.1.0 with other snapshot fields; "
        "read it with that version, or record again"
    )
    # The same damage in a file of this version's shape is damage.
    rewrite(path, [lines[0], old])
    assert str(error_of(path)).endswith("in RegistrationStats; the recording is damaged")


def test_a_gzip_bomb_of_one_long_line_is_inflated_in_few_calls(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # 80 MiB of one line in a ~80 KB file, at the real MAX_LINE_BYTES: inflated
    # 4 KiB a call into a growing bytes object it took over half an hour to refuse.
    from iofdtui.recording import reader
    from iofdtui.recording.codec import encode

    calls = 0
    real = reader.zlib.decompressobj

    class Counting:
        def __init__(self, wbits: int) -> None:
            self._inner = real(wbits=wbits)

        def decompress(self, data: bytes, limit: int) -> bytes:
            nonlocal calls
            calls += 1
            return self._inner.decompress(data, limit)

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    monkeypatch.setattr(reader.zlib, "decompressobj", Counting)
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb") as f:
        header = {"kind": "header", **encode(new_header(MACHINE, "headless"))}
        f.write(json.dumps(header).encode() + b"\n")
        for _ in range(80):
            f.write(b"0" * (1 << 20))
    err = error_of(path)
    assert err.line == 2 and "longer than 64 MiB" in str(err)
    assert calls < 200  # one per 4 KiB piece: over 16,000


def test_an_empty_file_name_is_one_line_that_asks_for_one() -> None:
    with pytest.raises(RecordWriteError, match="empty file name; give the recording a name"):
        Recorder("", new_header(MACHINE, "app"))


def test_a_count_too_long_for_python_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "digits.jsonl"
    write_sample(path, frames=1)
    header = path.read_text().splitlines()[0]
    path.write_text(header + "\n" + '{"kind": "frame", "at": ' + "9" * 5000 + "}\n")
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    text = str(caught.value)
    assert "an integer too long to be a count" in text and "sys." not in text
