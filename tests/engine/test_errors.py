"""The one error path: `native.check` turns a `-errno` return into the
EngineError the caller names; every message is one line with its cause, and
each error has a title (the UI's toast and modal headings)."""

from __future__ import annotations

import errno

import pytest

from iofdtui.engine.errors import (
    EngineError,
    GuestFault,
    KvmUnavailable,
    LabClosed,
    PauseTimeout,
    RegistrationRejected,
    deassign_refused,
    fault_report,
    rejection,
)
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.native import check, lib

FAULT = "guest halted (KVM_EXIT_HLT) (eip=0x1004 eax=0x2a edx=0x3f8)"


def test_a_return_that_is_not_negative_passes_through() -> None:
    assert check(0, "anything") == 0
    assert check(7, "anything", raising=PauseTimeout) == 7


def test_a_negative_return_is_an_engine_error_with_its_errno() -> None:
    with pytest.raises(EngineError) as caught:
        check(-errno.EBUSY, "setting the reader")
    assert type(caught.value) is EngineError
    assert caught.value.errno == errno.EBUSY
    assert str(caught.value) == "setting the reader: Device or resource busy"


def test_raising_names_the_class() -> None:
    with pytest.raises(RegistrationRejected) as caught:
        check(-errno.ENOENT, "registering PIO 0x03f8", raising=RegistrationRejected)
    assert caught.value.errno == errno.ENOENT
    assert str(caught.value).startswith("registering PIO 0x03f8: ")


def test_a_refused_deassign_ends_with_the_errno_name() -> None:
    err = deassign_refused(3, errno.ENOENT)
    assert type(err) is RegistrationRejected
    assert err.errno == errno.ENOENT
    assert str(err) == "the kernel refused to deassign #3: ENOENT"


def test_raising_maps_errnos_to_classes_and_the_rest_to_engine_error() -> None:
    by_errno = {errno.ETIMEDOUT: PauseTimeout}
    with pytest.raises(PauseTimeout) as caught:
        check(-errno.ETIMEDOUT, "pausing the guest", raising=by_errno)
    assert "did not park" in str(caught.value) and "restart" in str(caught.value)
    with pytest.raises(EngineError) as other:
        check(-errno.EINVAL, "pausing the guest", raising=by_errno)
    assert type(other.value) is EngineError


def test_a_function_builds_errors_that_need_more_than_the_errno() -> None:
    def fault(code: int, what: str) -> GuestFault:
        return GuestFault.from_fault(what)

    with pytest.raises(GuestFault) as caught:
        check(-errno.EIO, FAULT, raising={errno.EIO: fault})
    assert caught.value.errno == errno.EIO


def test_a_guest_fault_is_one_line_and_its_report_one_register_a_line() -> None:
    err = GuestFault.from_fault(FAULT)
    assert str(err) == f"the guest faulted: {FAULT}"
    assert "\n" not in str(err)
    assert err.report.splitlines() == [
        "guest halted (KVM_EXIT_HLT)",
        "eip=0x1004",
        "eax=0x2a",
        "edx=0x3f8",
    ]
    assert fault_report("vCPU 1: guest shut down") == "vCPU 1: guest shut down"
    assert GuestFault.from_fault(None).report == "no detail recorded"


@pytest.mark.parametrize(
    "error",
    [
        EngineError(errno.EIO, "x"),
        LabClosed(),
        KvmUnavailable(errno.ENOENT, "x"),
        RegistrationRejected(errno.EEXIST, "x"),
        GuestFault(errno.EIO, "x"),
        PauseTimeout(errno.ETIMEDOUT, "x"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_every_error_has_a_title_and_is_an_oserror(error: EngineError) -> None:
    assert error.title and "\n" not in error.title
    assert isinstance(error, OSError) and error.errno


SPEC = RegistrationSpec(Bus.PIO, 0x3F8, 1)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.EEXIST, "collides with #4 (pio 0x03f8"),
        (errno.EMFILE, "raise it with `ulimit -n`"),
        (errno.ENOMEM, "bus array is full at 12 registrations"),
        (errno.EINVAL, "check width"),
        (errno.ENOSPC, "io bus is full at 12 registrations"),
        (errno.EPERM, "EPERM from KVM_IOEVENTFD"),
    ],
)
def test_each_rejection_says_why_and_what_to_do(code: int, says: str) -> None:
    err = rejection(SPEC, code, lib.LAB_ASSIGN_IOCTL, 12, (4, SPEC))
    assert isinstance(err, RegistrationRejected) and err.errno == code
    assert says in str(err), str(err)
    assert "\n" not in str(err)


def test_a_rejection_names_the_step_that_failed() -> None:
    err = rejection(SPEC, errno.EMFILE + 1000, lib.LAB_ASSIGN_EPOLL, 0)
    assert "from epoll_ctl()" in str(err)
    err = rejection(SPEC, errno.EEXIST, lib.LAB_ASSIGN_IOCTL, 1)
    assert "collides with an existing one" in str(err)
