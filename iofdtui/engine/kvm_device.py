"""Is /dev/kvm usable? Asked in pure Python, before any VM or TUI exists.

The CLI asks this first, so a machine without KVM gets one line and exit
status 2 instead of an app that opens on an error; the engine's own start-up
(`errors.start_error`) words the same failures the same way.
"""

from __future__ import annotations

import errno as E
import fcntl
import os

KVM_PATH = "/dev/kvm"
KVM_API_VERSION = 12
"""The stable KVM API (Documentation/virt/kvm/api.rst): the only one there is."""
KVM_GET_API_VERSION = 0xAE00
"""_IO(KVMIO, 0x00), KVMIO = 0xAE (include/uapi/linux/kvm.h)."""


def missing() -> str:
    """/dev/kvm is not there."""
    return (
        f"{KVM_PATH} does not exist: load KVM (modprobe kvm_intel or kvm_amd) "
        "or enable virtualization in the firmware or VM settings"
    )


def denied() -> str:
    """/dev/kvm is there but this user may not open it."""
    return (
        f"permission denied opening {KVM_PATH}: add yourself to the kvm group "
        "(sudo usermod -aG kvm $USER, then log in again) or run as root"
    )


def not_kvm(code: int) -> str:
    """/dev/kvm opens but refuses KVM's first ioctl: some other device sits there."""
    return (
        f"{KVM_PATH} is not a KVM device (KVM_GET_API_VERSION fails: {os.strerror(code)}); "
        "something else is mounted or created there: remove it and load KVM "
        "(modprobe kvm_intel or kvm_amd), which creates the real one (char 10:232)"
    )


def wrong_api(version: int) -> str:
    """KVM answers with an API version other than the stable one."""
    return (
        f"KVM API version {version} is not the stable version {KVM_API_VERSION} this tool "
        "speaks; use a mainline Linux kernel"
    )


def kvm_problem(path: str = KVM_PATH) -> tuple[int, str] | None:
    """(errno, one line: cause and fix) when `path` is no usable KVM device, else None.

    Opens it read-write and asks its API version, as the engine's `lab_create`
    does first; the VM itself is not created (that failure, rarer, is the
    engine's to report).
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as err:
        code = err.errno or E.EIO
        if code == E.ENOENT:
            return code, missing()
        if code in (E.EACCES, E.EPERM):
            return code, denied()
        return code, f"cannot open {path}: {os.strerror(code)}"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION)
    except OSError as err:
        code = err.errno or E.ENOTTY
        return code, not_kvm(code)
    finally:
        os.close(fd)
    if version != KVM_API_VERSION:
        return E.EPROTO, wrong_api(version)
    return None
