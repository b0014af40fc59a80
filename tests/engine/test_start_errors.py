"""Start-up failures: one line with the cause and the fix, exit status 2.

Each case builds the failure for real in a private mount namespace (a /dev
without kvm, an unreadable kvm node, a character device that is not KVM),
so the engine's own open() and ioctl() meet it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from iofdtui.engine.errors import start_error
from iofdtui.engine.native import lib

DROP = "-dac_override,-dac_read_search"


def _in_namespace(setup: str, *args: str) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to build a private /dev")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace here: {probe.stderr.decode().strip()}")
    cmd = " ".join([sys.executable, "-m", "iofdtui", *args])
    script = f"mount -t tmpfs none /dev && {setup} {cmd}"
    return subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.mark.parametrize("command", [(), ("bench",), ("bench", "--scale"), ("serve",)])
def test_missing_dev_kvm(command: tuple[str, ...]) -> None:
    # The app too: one line before any TUI opens (stdin is no tty here, and
    # the KVM check comes first, so its line is the one given).
    line = _one_line(_in_namespace("", *command))
    assert "/dev/kvm does not exist" in line and "modprobe" in line
    assert line.endswith("iofdtui replay --demo")


def test_permission_denied() -> None:
    setup = (
        "mknod /dev/kvm c 10 232 && chmod 000 /dev/kvm && "
        f"exec setpriv --bounding-set={DROP} --inh-caps={DROP}"
    )
    line = _one_line(_in_namespace(setup, "bench"))
    assert "permission denied" in line and "kvm group" in line


@pytest.mark.parametrize(
    "setup",
    [
        "mknod /dev/kvm c 1 3 &&",  # another character device (/dev/null's numbers)
        "touch /dev/kvm &&",  # a regular file
    ],
)
@pytest.mark.parametrize("command", [(), ("bench",)])
def test_a_kvm_node_that_is_not_kvm(setup: str, command: tuple[str, ...]) -> None:
    line = _one_line(_in_namespace(setup, *command))
    assert "/dev/kvm is not a KVM device" in line, line
    assert "KVM_GET_API_VERSION" in line and "API version" not in line
    assert line.endswith("iofdtui replay --demo")


def test_the_engine_says_the_same_when_its_ioctl_fails() -> None:
    # lab_create keeps -1 as the version when KVM_GET_API_VERSION itself fails.
    err = start_error(lib.LAB_STAGE_API, 71, -1)
    assert "is not a KVM device" in str(err)
    assert "API version 11 is not the stable" in str(start_error(lib.LAB_STAGE_API, 71, 11))


def test_messages_name_the_missing_capability() -> None:
    err = start_error(lib.LAB_STAGE_CAP, 95, 36)
    assert "KVM_CAP_IOEVENTFD" in str(err) and "\n" not in str(err)
