"""An attached VM's recording: its header and frames round trip; nonsense and mixed
kinds are refused in one line; a lab's recording reads as before."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from iofdtui.engine.attach.snapshot import AttachSnapshot, TracedDoorbell
from iofdtui.engine.model import Bus
from iofdtui.recording.attach_frames import AttachFrame, attach_header
from iofdtui.recording.codec import decode, encode
from iofdtui.recording.frames import ATTACH_SCHEMA, SCHEMA, Event
from iofdtui.recording.reader import RecordingError, follow, read_header, read_recording
from iofdtui.recording.writer import Recorder, new_header
from tests.attach.fake_tracer import FakeTracer
from tests.recording.samples import MACHINE
from tests.ui.fake_lab import SNAPSHOT


def write_attach(path: Path, frames: int = 3) -> list[AttachFrame]:
    """`frames` readings of the fake tracer (growing counts), a reset event on the second."""
    tracer = FakeTracer()
    written = []
    with Recorder(path, attach_header(tracer.setup(), "0.1.0", "a test")) as rec:
        for i in range(frames):
            events = (Event(0.4 * i, "counts reset"),) if i == 1 else ()
            snap = tracer.snapshot()
            rec.attach_frame(0.5 * i, snap, events)
            written.append(AttachFrame(0.5 * i, snap, events))
    return written


def test_an_attach_snapshot_round_trips_through_the_codec() -> None:
    snap = FakeTracer().snapshot()
    frame = AttachFrame(1.5, snap, (Event(1.0, "counts reset", "warning"),))
    data = json.loads(json.dumps(encode(frame)))
    assert decode(AttachFrame, data) == frame
    setup = FakeTracer().setup()
    assert decode(type(setup), json.loads(json.dumps(encode(setup)))) == setup


@pytest.mark.parametrize("name", ["a.jsonl", "a.jsonl.gz"])
def test_an_attach_recording_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    written = write_attach(path)
    rec = read_recording(path)
    header = rec.header
    assert header.schema == ATTACH_SCHEMA and header.source == "attach"
    assert header.machine is None and header.attach == FakeTracer().setup()
    assert header.attach.comm == "qemu-system-x86" and "kvm_pio" in header.attach.events
    assert rec.attach_frames == written and rec.frames == []
    assert read_header(path) == header
    assert list(follow(path, timeout_s=0.2)) == [header, *written]


def test_a_lab_recording_header_has_no_attach_field_and_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "lab.jsonl"
    with Recorder(path, new_header(MACHINE, "headless")) as rec:
        rec.frame(0.0, SNAPSHOT)
    first = json.loads(path.read_text().splitlines()[0])
    assert "attach" not in first and first["schema"] == SCHEMA == 1  # older iofdtuis read it
    rec_read = read_recording(path)
    assert rec_read.header.attach is None and len(rec_read.frames) == 1
    assert rec_read.attach_frames == []


def _edit(path: Path, line: int, change) -> Path:  # type: ignore[no-untyped-def]
    lines = path.read_text().splitlines()
    data = json.loads(lines[line])
    change(data)
    lines[line] = json.dumps(data)
    path.write_text("\n".join(lines) + "\n")
    return path


def _door(data: dict, i: int = 0) -> dict:  # type: ignore[type-arg]
    return data["snapshot"]["doorbells"][i]


BAD: list[tuple[int, object, str]] = [
    (2, lambda d: _door(d).update(writes=-1), "doorbells[0].writes: -1 is negative"),
    (2, lambda d: _door(d).update(addr=-1), "doorbells[0].addr: -1 is not a mmio address"),
    (2, lambda d: _door(d, 1).update(addr=0x10000), "addr: 65536 is not a pio address"),
    (2, lambda d: _door(d).update(exits=10**9), "exits + undecided (1,000,000,001) > writes"),
    (2, lambda d: _door(d)["by_value"][0].update(width=3), "width: 3 is not 0, 1, 2, 4 or 8"),
    (2, lambda d: _door(d)["by_value"][0].update(value=1 << 40), "does not fit 4 bytes"),
    (2, lambda d: _door(d)["by_value"][0].update(writes=7), "by_value writes add up to"),
    (2, lambda d: _door(d)["by_thread"][0].update(tid=0), "tid: 0 is not a process id"),
    (2, lambda d: d["snapshot"].update(pid=99), "snapshot.pid: 99 is not the header's process"),
    (2, lambda d: d["snapshot"].update(elapsed_s="nan"), "elapsed_s: nan is not a finite"),
    (
        2,
        lambda d: d["snapshot"]["doorbells"].append(_door(d)),
        "mmio 0xfe000000 appears twice",
    ),
    (
        2,
        lambda d: d["snapshot"]["interrupts"]["vectors"][0].update(vector=256),
        "vector 256 is not 0-255",
    ),
    (2, lambda d: d.update(kind="frame"), "not an attach frame (kind 'frame')"),
    (2, lambda d: d.update(at=-5.0), "is not after the previous frame's"),
    (0, lambda d: d.update(source="app"), "the header mixes an attached VM's recording"),
    (0, lambda d: d.update(schema=1), "header.schema: 1 for an attached VM's"),
    (0, lambda d: d["attach"].update(pid=0), "header.attach.pid: 0 is not a process id"),
    (0, lambda d: d.update(schema=3), "written by a newer iofdtui (schema 3, this reads up to 2)"),
]


@pytest.mark.parametrize(("line", "change", "expected"), BAD)
def test_nonsense_is_one_line_naming_the_line_and_field(
    tmp_path: Path,
    line: int,
    change,  # type: ignore[no-untyped-def]
    expected: str,
) -> None:
    path = tmp_path / "a.jsonl"
    write_attach(path)
    _edit(path, line, change)
    with pytest.raises(RecordingError) as caught:
        read_recording(path)
    text = str(caught.value)
    assert text.startswith(f"line {line + 1}: ") and expected in text, text
    assert "\n" not in text


def test_a_lab_header_claiming_attach_frames_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    write_attach(path)
    _edit(path, 0, lambda d: d.update(attach=None, source="attach"))
    with pytest.raises(RecordingError, match="line 1: the header mixes a lab's recording"):
        read_recording(path)


def test_every_count_field_of_an_attach_snapshot_is_checked() -> None:
    """Each int field of a doorbell made negative is refused (no count left unbounded)."""
    from iofdtui.recording.attach_frames import Nonsense, check_snapshot

    tracer = FakeTracer()
    snap = tracer.snapshot()
    for name in ("writes", "exits", "undecided"):
        door = dataclasses.replace(snap.doorbells[0], **{name: -1})
        with pytest.raises(Nonsense):
            check_snapshot(_with_door(snap, door), tracer.setup())
    check_snapshot(snap, tracer.setup())  # the fake's own counts make sense


def _with_door(snap: AttachSnapshot, door: TracedDoorbell) -> AttachSnapshot:
    return dataclasses.replace(snap, doorbells=(door, *snap.doorbells[1:]))


def test_bus_end_covers_both_buses() -> None:
    from iofdtui.recording.attach_frames import BUS_END

    assert set(BUS_END) == set(Bus)
