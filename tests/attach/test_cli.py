"""`iofdtui attach` on the command line: --list, a headless trace, and one-line failures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from iofdtui import cli
from iofdtui.engine.attach import tracefs as tracefs_module
from iofdtui.engine.demo import demo_plan, demo_registrations
from tests.attach.conftest import our_instances


@pytest.mark.kvm
def test_list_shows_this_processs_vm(lab: object, capsys: pytest.CaptureFixture[str]) -> None:
    lab.start()
    assert cli.main(["attach", "--list"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    mine = [row for row in rows if row and row[0] == str(os.getpid())]
    assert mine, "this process holds a VM: it is listed"
    assert mine[0][2] == "1" and int(mine[0][3]) >= 1  # one VM fd, its vCPU fds


@pytest.mark.kvm
def test_headless_json_adds_up(
    lab: object, tracefs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    lab.start()
    time.sleep(0.05)
    assert cli.main(["attach", str(os.getpid()), "--seconds", "0.3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    doors = {(d["bus"], d["addr"]): d for d in doc["doorbells"]}
    pio = doors[("pio", 0x3F8)]
    assert pio["writes"] > 0 and pio["exits"] == 0  # the wildcard takes every ring
    assert doors[("pio", 0x600)]["in_kernel"] == 0  # never registered: every ring exits
    for d in doc["doorbells"]:
        assert d["writes"] == d["in_kernel"] + d["exits"] + d["undecided"]
    assert our_instances(tracefs) == []


@pytest.mark.kvm
def test_without_tracefs_one_line_exit_2(
    lab: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text("proc /proc proc rw 0 0\n")
    monkeypatch.setattr(tracefs_module, "MOUNTS", str(mounts))
    assert cli.main(["attach", str(os.getpid()), "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "tracefs is not mounted; mount it (`mount -t tracefs nodev /sys/kernel/tracing`)" in err


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["attach"], "give a PID to trace, or --list"),
        (["attach", "--list", "1"], "--list takes no PID"),
        (["attach", "1", "--json"], "--json goes with --seconds"),
        (["attach", "x", "--seconds", "1"], "must be a process id"),
        (["attach", "1", "--seconds", "0"], "must be seconds from 0.1"),
        (["attach", "1", "--seconds", "1", "--record", "r.jsonl"], "--record goes with the app"),
        (["attach", "--list", "--record", "r.jsonl"], "--record goes with the app"),
    ],
)
def test_bad_flags_one_line(argv: list[str], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1


def test_not_a_vm_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["attach", "1", "--seconds", "1"]) == 2
    assert "holds no KVM VM" in capsys.readouterr().err


def test_app_without_a_terminal_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest's stdin is not a terminal: the app refuses before any tracefs work.
    assert cli.main(["attach", str(os.getpid())]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"for a headless run try `iofdtui attach {os.getpid()} --seconds S`" in err
