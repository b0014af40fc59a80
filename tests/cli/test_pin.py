"""--pin where it cannot separate anything: one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.kvm


def test_pin_on_one_allowed_cpu_is_one_line() -> None:
    """A process allowed a single CPU (a cpuset, `taskset -c 0`) cannot pin apart."""
    one = {min(os.sched_getaffinity(0))}
    done = subprocess.run(
        [sys.executable, "-m", "iofdtui", "bench", "--pin", "--reader", "none"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.sched_setaffinity(0, one),
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "pinning needs two CPUs" in done.stderr
    assert "Traceback" not in done.stderr
