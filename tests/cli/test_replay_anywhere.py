"""`iofdtui replay` runs where there is no KVM and no built engine.

Each run is `iofdtui` on a real pty in a private mount namespace whose /dev
is an empty tmpfs (no /dev/kvm), under a wrapper that makes the native
engine unimportable: any import of `iofdtui.engine.native._lab` (so of
`Lab`) raises, and the replay would fail with it.  The control runs show
that both the block and the hidden /dev/kvm are in force.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.ptyrun import ENTER_ALT, PtyRun
from tests.ui.replay_frames import signals_at, write_recording

BLOCKED = (
    "import runpy, sys; "
    "sys.modules['iofdtui.engine.native._lab'] = None; "  # import raises ImportError
    "sys.modules['iofdtui.engine.attach.native._tally'] = None; "  # the tracer's library too
    "sys.argv = ['iofdtui', *sys.argv[1:]]; "
    "runpy.run_module('iofdtui', run_name='__main__')"
)
"""`python -m iofdtui` with the compiled engine blocked."""


def _in_namespace(*args: str) -> list[str]:
    """argv: the blocked iofdtui with `args`, in a mount namespace with an empty /dev."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to hide /dev/kvm")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode().strip()}")
    cmd = shlex.join([sys.executable, "-c", BLOCKED, *args])
    return ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none /dev && exec {cmd}"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _in_namespace(*args), capture_output=True, text=True, timeout=60, check=False
    )


def test_the_block_and_the_hidden_device_are_in_force() -> None:
    # The lab commands fail at once: /dev/kvm is not there...
    done = _run("bench")
    assert done.returncode == 2 and "/dev/kvm does not exist" in done.stderr, done
    # ... and the engine cannot be imported at all.
    probe = subprocess.run(
        [sys.executable, "-c", BLOCKED.split("sys.argv")[0] + "import iofdtui.engine.lab"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode != 0 and "ImportError" in probe.stderr
    tracer = [
        sys.executable,
        "-c",
        BLOCKED.split("sys.argv")[0] + "import iofdtui.engine.attach.tracer",
    ]
    probe = subprocess.run(tracer, capture_output=True, text=True, check=False)
    assert probe.returncode != 0 and "ImportError" in probe.stderr


def test_replay_draws_and_plays_without_kvm_or_engine(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.jsonl.gz")
    run = PtyRun(_in_namespace("replay", str(path)), size=(45, 160))
    try:
        first = f"{signals_at(0):,}".encode()
        drawn = run.wait_for(
            lambda out: ENTER_ALT in out and b"REPLAY" in out and first in out, timeout=30
        )
        assert drawn, bytes(run.output[-3000:])
        mark = len(run.output)
        os.write(run.master, b" ")  # play: the counts move on
        later = [f"{signals_at(i):,}".encode() for i in range(4, 30)]
        moved = run.wait_for(lambda out: any(c in out[mark:] for c in later), timeout=20)
        assert moved, bytes(run.output[-3000:])
        os.write(run.master, b"q")
        assert run.wait(timeout=20) == 0
        assert b"Traceback" not in run.output
    finally:
        run.close()


def test_the_shipped_demo_plays_without_kvm_or_engine() -> None:
    run = PtyRun(_in_namespace("replay", "--demo"), size=(45, 160))
    try:
        drawn = run.wait_for(
            lambda out: ENTER_ALT in out and b"REPLAY" in out and b"shipped with" in out,
            timeout=30,
        )
        assert drawn, bytes(run.output[-3000:])
        assert run.wait_for(lambda out: b"(demo)" in out and b"Doorbells" in out, timeout=20)
        os.write(run.master, b"q")
        assert run.wait(timeout=20) == 0
    finally:
        run.close()


def test_a_bad_recording_is_one_line_without_kvm_or_engine(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "frame"}\n')
    done = _run("replay", str(bad))
    assert done.returncode == 2, done
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"iofdtui: {bad}") and "line 1" in line
