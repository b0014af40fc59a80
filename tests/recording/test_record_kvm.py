"""`iofdtui record` on /dev/kvm: a real recording reads back counted and conserved."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from iofdtui import cli
from iofdtui.capture.headless import parse_plan
from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.recording.frames import Frame
from iofdtui.recording.reader import read_recording


def assert_conserved(frames: list[Frame]) -> int:
    """Every frame's live check holds; every checkpoint is exact and balances
    (guest rings = signals + exits per doorbell); returns the checkpoints seen."""
    seen = set()
    for frame in frames:
        snap = frame.snapshot
        for door in snap.doorbells:
            assert door.live_ok, (frame.at, door)
        cp = snap.checkpoint
        if cp is not None and cp.number not in seen:
            seen.add(cp.number)
            assert cp.holds, (frame.at, cp)
            for door in cp.doorbells:
                assert door.rings == door.signals + door.exits, (frame.at, door)
    return len(seen)


@pytest.mark.kvm
def test_a_headless_recording_reads_back_counted_and_conserved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.jsonl.gz"
    argv = ["record", str(path), "--seconds", "2", "--every", "0.25", "--note", "test"]
    assert cli.main(argv) == 0
    [line] = capsys.readouterr().out.splitlines()
    rec = read_recording(path)
    assert line == (
        f"recorded {len(rec.frames)} frames over "
        f"{rec.frames[-1].at:.1f} s to {path} (1 checkpoint, all exact)"
    )
    assert rec.header.source == "headless" and rec.header.note == "test"
    assert rec.notes == []
    assert 6 <= len(rec.frames) <= 9
    times = [f.at for f in rec.frames]
    assert times == sorted(times) and times[-1] >= 2.0
    rings = [f.snapshot.total_rings for f in rec.frames]
    assert all(a < b for a, b in itertools.pairwise(rings)), rings
    signals = [sum(r.signals for r in f.snapshot.registrations) for f in rec.frames]
    assert all(a < b for a, b in itertools.pairwise(signals)), signals
    # The final frame follows an exact checkpoint; the start's events are in frame 0.
    assert assert_conserved(rec.frames) >= 1
    assert rec.frames[-1].snapshot.checkpoint is not None
    assert any("registered #1 pio 0x03f8/1" in e.text for e in rec.frames[0].events)
    # The histograms the detail pane needs, for both registrations.
    last = rec.frames[-1].histograms
    assert set(last.readers) == {1, 2} and sum(c for _v, c in last.readers[1]["epoll"]) > 0
    assert (Bus.PIO, 1) in last.baselines and (Bus.MMIO, 4) in last.baselines


@pytest.mark.kvm
def test_a_plan_of_ones_own(tmp_path: Path) -> None:
    path = tmp_path / "plan.jsonl"
    assert cli.main(["record", str(path), "--seconds", "0.5", "--plan", "pio:0x600:1:0"]) == 0
    rec = read_recording(path)
    snap = rec.frames[-1].snapshot
    assert [s.spec for s in snap.slots] == [SlotSpec(Bus.PIO, 0x600, 1, 0)]
    rang = {(d.bus, d.addr): d.rings for d in snap.doorbells}
    assert rang[(Bus.PIO, 0x600)] > 0 and rang[(Bus.PIO, 0x3F8)] == 0  # the demo's stays silent


def test_plans_are_parsed_and_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_plan("pio:0x3f8:1:0x42, mmio:0xfe000000:4:2:8") == [
        SlotSpec(Bus.PIO, 0x3F8, 1, 0x42),
        SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 2, 8),
    ]
    with pytest.raises(SystemExit) as caught:
        cli.main(["record", "x.jsonl", "--plan", "pio:0x3f8:3:0"])
    assert caught.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == (
        "iofdtui record: argument --plan: write 1 'pio:0x3f8:3:0': "
        "a PIO write is 1, 2 or 4 bytes wide; see iofdtui record --help"
    )


def test_without_kvm_record_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    from iofdtui.engine import lab as lab_module
    from iofdtui.engine.errors import KvmUnavailable

    def no_kvm(vcpus: int = 1) -> object:
        raise KvmUnavailable(errno.ENOENT, "/dev/kvm does not exist: load KVM")

    monkeypatch.setattr(lab_module, "open_lab", no_kvm)
    path = tmp_path / "never.jsonl"
    assert cli.main(["record", str(path), "--seconds", "1"]) == 2
    out, err = capsys.readouterr()
    hint = cli.NO_KVM_HINT  # every reason the lab cannot start points to the replay
    assert out == "" and err == f"iofdtui: /dev/kvm does not exist: load KVM; {hint}\n"
    assert not path.exists(), "nothing is written before a VM exists"


def test_an_unwritable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "x.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "record", str(target), "--seconds", "0.5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.endswith(
        "No such file or directory; create the directory first, or record elsewhere"
    )


def test_the_app_refuses_an_unwritable_record_file_before_any_vm(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(cli.running, "has_terminal", lambda: True)
    target = tmp_path / "no-such-dir" / "s.jsonl"
    assert cli.main(["--record", str(target)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"iofdtui: cannot write {target}: No such file or directory; "
        "create the directory first, or record elsewhere\n"
    )
    writable = tmp_path / "fine.jsonl"
    from iofdtui.recording.writer import probe

    probe(writable)
    assert not writable.exists(), "the probe leaves nothing behind"
