"""Started with a standard stream closed (`>&-`, `<&-`): one line and exit 2, never a
traceback (Python has None for a closed fd 0 or 1, and `.isatty()` on it raised)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from iofdtui.cli.flags import STDOUT_CLOSED
from iofdtui.ui.replay.app import demo_path


def _run(args: list[str], close_fd: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iofdtui", *args],
        preexec_fn=lambda: os.close(close_fd),  # after the pipes are set up, before exec
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [["export", "DEMO", "--csv", "-"], ["bench", "--seconds", "0.05"], ["attach", "--list"]],
    ids=["export", "bench", "attach-list"],
)
def test_stdout_closed_is_one_line(args: list[str]) -> None:
    args = [str(demo_path()) if a == "DEMO" else a for a in args]
    done = _run(args, close_fd=1)
    assert done.returncode == 2
    assert done.stderr == STDOUT_CLOSED + "\n"


def test_stdin_closed_means_no_terminal_for_a_replay() -> None:
    done = _run(["replay", "--demo"], close_fd=0)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "needs a terminal" in done.stderr


@pytest.mark.parametrize("port", ["²", "٣", "+80", " 80"])
def test_a_port_of_other_digits_is_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    from iofdtui import cli

    with pytest.raises(SystemExit) as ended:
        cli.main(["serve", "--port", port])
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "must be a port from 0 to 65535" in err
