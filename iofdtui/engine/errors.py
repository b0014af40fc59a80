"""The engine's exceptions: each carries a one-line cause and the fix.

They derive from OSError so `errno` stays available to callers and tests;
`str(err)` is what a person reads.
"""

from __future__ import annotations

import errno as E
import os
import resource

from iofdtui.engine.native import lib


class EngineError(OSError):
    """Any engine failure: `str()` is one line, `title` is a short heading."""

    title = "iofdtui engine error"

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class LabClosed(EngineError):
    """A call on a lab after `close()`: its native state is gone (errno EBADF)."""

    title = "Lab closed"

    def __init__(self) -> None:
        super().__init__(E.EBADF, "the lab is closed; start a new one")


class KvmUnavailable(EngineError):
    """The test VM cannot start on this machine."""

    title = "KVM unavailable"


class RegistrationRejected(EngineError):
    """The kernel (or iofdtui, before asking it) refused a registration."""

    title = "Registration rejected"

    def __init__(self, code: int, message: str, field: str | None = None) -> None:
        super().__init__(code, message)
        self.field = field


class GuestFault(EngineError):
    """The guest stopped in a way the engine cannot continue from."""

    title = "Guest fault"


class PauseTimeout(EngineError):
    """The guest did not reach a quiescent point in time."""

    title = "Guest unresponsive"


_CAP_NAMES = {
    36: "KVM_CAP_IOEVENTFD",
    3: "KVM_CAP_USER_MEMORY",
    136: "KVM_CAP_IMMEDIATE_EXIT",
}


def start_error(stage: int, code: int, detail: int) -> KvmUnavailable:
    """Explain why `lab_create` failed, with the fix."""
    if stage == lib.LAB_STAGE_OPEN:
        if code == E.ENOENT:
            msg = (
                "/dev/kvm does not exist: load KVM (modprobe kvm_intel or kvm_amd) "
                "or enable virtualization in the firmware or VM settings"
            )
        elif code in (E.EACCES, E.EPERM):
            msg = (
                "permission denied opening /dev/kvm: add yourself to the kvm group "
                "(sudo usermod -aG kvm $USER, then log in again) or run as root"
            )
        else:
            msg = f"cannot open /dev/kvm: {os.strerror(code)}"
    elif stage == lib.LAB_STAGE_API:
        msg = (
            f"KVM API version {detail} is not the stable version 12 this tool speaks; "
            "use a mainline Linux kernel"
        )
    elif stage == lib.LAB_STAGE_CAP:
        name = _CAP_NAMES.get(detail, f"capability {detail}")
        msg = f"this kernel's KVM lacks {name}, which iofdtui needs; use Linux 4.11 or newer"
    elif stage == lib.LAB_STAGE_VM:
        msg = f"KVM_CREATE_VM failed: {os.strerror(code)}; is another hypervisor holding VT-x/SVM?"
    elif stage == lib.LAB_STAGE_MEMORY:
        msg = f"could not give the guest its RAM: {os.strerror(code)}"
    elif stage == lib.LAB_STAGE_VCPU:
        msg = f"KVM_CREATE_VCPU failed: {os.strerror(code)}"
    elif stage == lib.LAB_STAGE_VCPUS:
        msg = (
            f"this KVM runs at most {detail} vCPU(s) per VM (KVM_CAP_MAX_VCPUS) and iofdtui "
            f"at most {lib.MAX_VCPUS}; run with --vcpus 1 (or up to {min(detail, lib.MAX_VCPUS)})"
        )
    elif stage == lib.LAB_STAGE_IMAGE:
        msg = "the built-in guest image is unusable: reinstall iofdtui (pip install -e .)"
    else:
        msg = f"could not start the engine: {os.strerror(code)}"
    return KvmUnavailable(code, msg)


def open_file_limit() -> int:
    """The process's soft RLIMIT_NOFILE."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
