"""The engine's exceptions: each carries a one-line cause and the fix.

They derive from OSError so `errno` stays available to callers and tests;
`str(err)` is what a person reads.
"""

from __future__ import annotations

import errno as E
import os
import re
import resource
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from iofdtui.engine import kvm_device

if TYPE_CHECKING:
    from iofdtui.engine.model import RegistrationSpec


class EngineError(OSError):
    """Any engine failure: `str()` is one line, `title` is a short heading."""

    title = "iofdtui engine error"

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_errno(cls, code: int, what: str) -> EngineError:
        """The error for a `-errno` return of the call described by `what`."""
        return cls(code, f"{what}: {os.strerror(code)}")


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
    """The guest stopped in a way the engine cannot continue from.

    `str()` is one line; `report` is the fault on several lines (what happened,
    then one register a line) for a modal that shows it whole.
    """

    title = "Guest fault"

    def __init__(self, code: int, message: str, report: str = "") -> None:
        super().__init__(code, message)
        self.report = report or message

    @classmethod
    def from_fault(cls, fault: str | None) -> GuestFault:
        """The error for the engine's fault text (`lab_fault`), as a guest fault (EIO)."""
        text = fault or "no detail recorded"
        return cls(E.EIO, f"the guest faulted: {text}", fault_report(text))


class PauseTimeout(EngineError):
    """The guest did not reach a quiescent point in time."""

    title = "Guest unresponsive"

    @classmethod
    def from_errno(cls, code: int, what: str) -> PauseTimeout:
        return cls(code, "the guest did not park even after a kick; stop and restart the lab")


# Builds the exception for one errno: an EngineError class (its `from_errno`)
# or a function of (errno, what), for errors that need more than the errno.
Raising = type[EngineError] | Callable[[int, str], EngineError]


def from_errno(
    code: int, what: str, raising: Raising | Mapping[int, Raising] | None = None
) -> EngineError:
    """The exception for errno `code` from the call `what` (see `native.check`).

    `raising` is the class to raise, or a map errno -> class (EngineError for
    the others); a plain function of (errno, what) stands in for a class.
    """
    if isinstance(raising, Mapping):
        raising = raising.get(code)
    if raising is None:
        return EngineError.from_errno(code, what)
    if isinstance(raising, type):
        return raising.from_errno(code, what)
    return raising(code, what)


_REGISTERS = re.compile(r"^(?P<what>.*?) \((?P<regs>(?:\w+=\S+ ?)+)\)$")


def fault_report(fault: str) -> str:
    """The fault text on lines: what happened, then each register (`eip=0x...`) alone."""
    found = _REGISTERS.match(fault)
    if found is None:
        return fault
    return "\n".join([found["what"], *found["regs"].split()])


def rejection(
    spec: RegistrationSpec,
    code: int,
    stage: int,
    live: int,
    clash: tuple[int, RegistrationSpec] | None = None,
) -> RegistrationRejected:
    """Why KVM_IOEVENTFD assign (or the eventfd or epoll step before it, `stage`:
    enum lab_assign_stage) refused `spec`, with `live` registrations in place
    and `clash` the live one it collides with (for EEXIST), and the fix."""
    if code == E.EEXIST:
        named = f"#{clash[0]} ({clash[1].describe()})" if clash else "an existing one"
        return RegistrationRejected(
            code,
            f"EEXIST: {spec.describe()} collides with {named}; remove it first, "
            "or use another width or a different trigger value",
        )
    if code == E.EMFILE or code == E.ENFILE:
        return RegistrationRejected(
            code,
            f"{E.errorcode[code]}: out of file descriptors ({live} registrations, "
            f"open-file limit {open_file_limit()}); raise it with `ulimit -n`",
        )
    if code == E.ENOMEM:
        return RegistrationRejected(
            code,
            f"ENOMEM: the kernel's {spec.bus.value.upper()} bus array is full at {live} "
            "registrations (about 4 MiB of ranges); remove some",
        )
    if code == E.EINVAL:
        return RegistrationRejected(
            code,
            f"EINVAL: the kernel rejected {spec.describe()}: check width "
            "(1/2/4/8, or 0 only without a trigger) and that address + width does not wrap",
            "width",
        )
    if code == E.ENOSPC:
        return RegistrationRejected(
            code, f"ENOSPC: the kernel's io bus is full at {live} registrations"
        )
    from iofdtui.engine.native import lib  # only native calls get here: it is loaded

    where = {lib.LAB_ASSIGN_EVENTFD: "eventfd()", lib.LAB_ASSIGN_EPOLL: "epoll_ctl()"}
    return RegistrationRejected(
        code,
        f"{E.errorcode.get(code, code)} from {where.get(stage, 'KVM_IOEVENTFD')}: "
        f"{spec.describe()} was not registered",
    )


def deassign_refused(reg_id: int, code: int) -> RegistrationRejected:
    """The kernel refused to deassign #reg_id with errno `code` (named, e.g. ENOENT)."""
    return RegistrationRejected(
        code, f"the kernel refused to deassign #{reg_id}: {E.errorcode.get(code, code)}"
    )


_CAP_NAMES = {
    36: "KVM_CAP_IOEVENTFD",
    3: "KVM_CAP_USER_MEMORY",
    136: "KVM_CAP_IMMEDIATE_EXIT",
}


def start_error(stage: int, code: int, detail: int) -> KvmUnavailable:
    """Explain why `lab_create` failed, with the fix."""
    # Imported here, not at the top: the CLI and replay import this module on
    # machines whose engine is not built; only a native failure gets here.
    from iofdtui.engine.native import lib

    if stage == lib.LAB_STAGE_OPEN:
        if code == E.ENOENT:
            msg = kvm_device.missing()
        elif code in (E.EACCES, E.EPERM):
            msg = kvm_device.denied()
        else:
            msg = f"cannot open /dev/kvm: {os.strerror(code)}"
    elif stage == lib.LAB_STAGE_API and detail < 0:
        # The ioctl itself failed (the C side keeps -1 as the version): not KVM.
        msg = kvm_device.not_kvm(E.ENOTTY)
    elif stage == lib.LAB_STAGE_API:
        msg = kvm_device.wrong_api(detail)
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
