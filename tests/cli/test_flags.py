"""Bad flags, fuzzed: each ends in one line on stderr and exit 2, never a traceback.

Each case runs `python -m iofdtui` as a subprocess, as a person would type it;
none gets as far as a VM, so no KVM is needed and the whole table runs in
seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

# (argv, a fragment the one line must name: the flag and what it accepts)
BAD: tuple[tuple[tuple[str, ...], str], ...] = (
    (("bench", "--seconds", "inf"), "--seconds"),
    (("bench", "--seconds", "nan"), "--seconds"),
    (("bench", "--seconds", "1e400"), "--seconds"),
    (("bench", "--seconds", "-1"), "--seconds"),
    (("bench", "--seconds", "0"), "from 0.05 to 3600"),
    (("bench", "--seconds", "1e-9"), "from 0.05 to 3600"),
    (("bench", "--seconds", "7200"), "--seconds"),
    (("bench", "--seconds", "abc"), "--seconds"),
    (("bench", "--seconds", ""), "--seconds"),
    (("bench", "--seconds"), "--seconds"),
    (("bench", "--scale", "--seconds", "-1"), "--seconds"),
    (("bench", "--scale", "--seconds", "0"), "--seconds"),
    (("bench", "--wake", "--seconds", "inf"), "--seconds"),
    (("bench", "--vcpus", "2", "--seconds", "-0"), "--seconds"),
    (("bench", "--json", "--seconds", "1e-9"), "--seconds"),
    (("bench", "--scale", "--max-decoys", "-5"), "--max-decoys"),
    (("bench", "--scale", "--max-decoys", "0"), "at least 1"),
    (("bench", "--scale", "--max-decoys", "1.5"), "--max-decoys"),
    (("bench", "--scale", "--max-decoys", "many"), "--max-decoys"),
    (("bench", "--max-decoys", "-5"), "--max-decoys"),
    (("bench", "--max-decoys", "10"), "only applies to --scale"),
    (("bench", "--bus", "mmio"), "only applies to --scale"),
    (("bench", "--scale", "--bus", "isa"), "--bus"),
    (("bench", "--period", "0"), "--period"),
    (("bench", "--period", "100"), "only applies to --wake"),
    (("bench", "--wake", "--period", "0"), "from 1 to 100000"),
    (("bench", "--wake", "--period", "-3"), "--period"),
    (("bench", "--wake", "--period", "inf"), "--period"),
    (("bench", "--wake", "--period", "1e6"), "--period"),
    (("bench", "--reader", "bogus"), "--reader"),
    (("bench", "--consumer", "select"), "--consumer"),
    (("bench", "--reader"), "--reader"),
    (("bench", "--vcpus", "2", "--reader", "all"), "--vcpus 2"),
    (("bench", "--vcpus", "3"), "--vcpus"),
    (("bench", "--vcpus", "two"), "--vcpus"),
    (("bench", "--wake", "--scale"), "pick one"),
    (("bench", "--scale", "--vcpus", "2"), "pick one"),
    (("bench", "--wake", "--vcpus", "2"), "pick one"),
    (("bench", "--scale", "--reader", "poll"), "--reader"),
    (("bench", "--scale", "--pin"), "--pin"),
    (("bench", "--bogus"), "--bogus"),
    (("bench", "extra"), "extra"),
    (("--vcpus", "0"), "--vcpus"),
    (("--vcpus",), "--vcpus"),
    (("--bogus",), "--bogus"),
    (("frobnicate",), "frobnicate"),
    (("--seconds", "1"), "invalid choice: '1'"),
)


def run(argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iofdtui", *argv],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    """Every case, run two at a time (each is an interpreter start-up)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip((argv for argv, _ in BAD), pool.map(run, (a for a, _ in BAD)), strict=True))


@pytest.mark.parametrize(("argv", "names"), BAD, ids=[" ".join(a) or "-" for a, _ in BAD])
def test_a_bad_flag_is_one_line_and_exit_2(
    results: dict[tuple[str, ...], subprocess.CompletedProcess[str]],
    argv: tuple[str, ...],
    names: str,
) -> None:
    done = results[argv]
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip(), done.stderr
    assert lines[0].startswith(("iofdtui: ", "iofdtui bench: ")), lines[0]
    assert lines[0].endswith("--help"), "and where to read more"
    assert names in lines[0], lines[0]
    assert done.stdout == ""


def test_help_still_works() -> None:
    done = run(("bench", "--help"))
    assert done.returncode == 0 and "--reader" in done.stdout and "--consumer" in done.stdout
    assert done.stderr == ""
