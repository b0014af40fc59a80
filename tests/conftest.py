"""Shared fixtures: a real lab on /dev/kvm, skipped or failed by policy.

With IOFDTUI_REQUIRE_KVM=1 (CI sets it) a test that needs KVM fails when
KVM is unusable instead of skipping, so a green run means the ioctls ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

REQUIRE_KVM = os.environ.get("IOFDTUI_REQUIRE_KVM") == "1"


def _kvm_problem() -> str | None:
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm does not exist"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not readable and writable by this user"
    return None


def need_kvm() -> None:
    """Skip (or fail, under IOFDTUI_REQUIRE_KVM=1) when KVM is unusable."""
    problem = _kvm_problem()
    if problem is None:
        return
    if REQUIRE_KVM:
        pytest.fail(f"IOFDTUI_REQUIRE_KVM=1 but {problem}")
    pytest.skip(f"needs KVM: {problem}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kvm"):
        need_kvm()


@pytest.fixture
def lab() -> Iterator[object]:
    """A fresh, not yet started lab; closed after the test."""
    need_kvm()
    from iofdtui.engine.lab import Lab

    with Lab() as the_lab:
        yield the_lab


@pytest.fixture
def lab2() -> Iterator[object]:
    """A fresh, not yet started lab with two vCPUs; closed after the test."""
    need_kvm()
    from iofdtui.engine.lab import Lab

    with Lab(vcpus=2) as the_lab:
        yield the_lab
