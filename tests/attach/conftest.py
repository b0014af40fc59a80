"""tracefs for the attach tests: mounted where the README says, or skipped/failed by policy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_KVM

STANDARD = "/sys/kernel/tracing"


def _tracefs() -> Path | None:
    from iofdtui.engine.attach.errors import TraceUnavailable
    from iofdtui.engine.attach.tracefs import find_tracefs

    try:
        return find_tracefs()
    except TraceUnavailable:
        pass
    if os.geteuid() != 0 or not os.path.isdir(STANDARD):
        return None
    # The fix the one-line error gives a user, applied once for the run.
    done = subprocess.run(["mount", "-t", "tracefs", "nodev", STANDARD], capture_output=True)
    return Path(STANDARD) if done.returncode == 0 else None


@pytest.fixture
def tracefs() -> Path:
    """Where tracefs is mounted; skipped (failed under IOFDTUI_REQUIRE_KVM=1) without it."""
    root = _tracefs()
    if root is None or not os.access(root / "instances", os.W_OK):
        if REQUIRE_KVM:
            pytest.fail("IOFDTUI_REQUIRE_KVM=1 but tracefs is not mounted and writable (root)")
        pytest.skip("needs tracefs, writable (root)")
    return root


def our_instances(root: Path) -> list[str]:
    """This process's iofdtui instances under `root`."""
    return [n for n in os.listdir(root / "instances") if n.startswith(f"iofdtui-{os.getpid()}-")]
