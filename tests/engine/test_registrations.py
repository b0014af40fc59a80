"""Registration errors, each from a real KVM_IOEVENTFD ioctl (or a real limit)."""

from __future__ import annotations

import errno
import resource

import pytest

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, SpecError
from iofdtui.engine.native import ffi, lib

pytestmark = pytest.mark.kvm

PORT = 0x3F8
MMIO = 0xFE00_0000


def test_eexist_names_the_registration_it_collides_with(lab) -> None:
    first = lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 1))
    with pytest.raises(RegistrationRejected) as caught:
        lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 1, 0x42))
    err = caught.value
    assert err.errno == errno.EEXIST
    assert f"#{first}" in str(err) and "0x03f8" in str(err)
    assert "\n" not in str(err)


def test_what_the_kernel_allows_beside_each_other(lab) -> None:
    # virtio's pattern: one doorbell, one eventfd per trigger value
    for value in (0, 1, 2):
        lab.add_registration(RegistrationSpec(Bus.MMIO, MMIO, 4, value))
    # another length at the same address is a different key
    lab.add_registration(RegistrationSpec(Bus.MMIO, MMIO, 2))
    # any-length collides with everything at that address
    if lab.any_length:
        with pytest.raises(RegistrationRejected) as caught:
            lab.add_registration(RegistrationSpec(Bus.MMIO, MMIO, 0))
        assert caught.value.errno == errno.EEXIST


def test_the_kernel_says_einval_for_a_bad_length(lab) -> None:
    with pytest.raises(RegistrationRejected) as caught:
        lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 3), prevalidate=False)
    assert caught.value.errno == errno.EINVAL
    assert "width" in str(caught.value)


def test_the_kernel_says_einval_for_datamatch_without_length(lab) -> None:
    with pytest.raises(RegistrationRejected) as caught:
        lab.add_registration(RegistrationSpec(Bus.MMIO, MMIO, 0, 5), prevalidate=False)
    assert caught.value.errno == errno.EINVAL


def test_the_kernel_says_einval_when_address_plus_length_wraps(lab) -> None:
    spec = RegistrationSpec(Bus.MMIO, 0xFFFF_FFFF_FFFF_FFFE, 4)
    with pytest.raises(RegistrationRejected) as caught:
        lab.add_registration(spec, prevalidate=False)
    assert caught.value.errno == errno.EINVAL


def test_unknown_flag_bits_and_non_eventfds_are_einval_in_the_kernel() -> None:
    """Raw ioctl paths the Lab never takes, checked against the real kernel."""
    from iofdtui.engine.lab import Lab

    with Lab() as lab:
        rid, efd, stage = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        # datamatch flag + len 0 straight through the native call
        rc = lib.lab_assign(lab._lab, 0, MMIO, 0, 1, 7, rid, efd, stage)
        assert rc == -errno.EINVAL and stage[0] == lib.LAB_ASSIGN_IOCTL


def test_validation_refuses_what_could_never_fire() -> None:
    cases = [
        (RegistrationSpec(Bus.PIO, PORT, 8), "width"),
        (RegistrationSpec(Bus.PIO, PORT, 1, 0x100), "trigger"),
        (RegistrationSpec(Bus.MMIO, 0x1000, 4), "addr"),
        (RegistrationSpec(Bus.PIO, lib.PARK_PORT, 1), "addr"),
        (RegistrationSpec(Bus.MMIO, MMIO, 0, 1), "trigger"),
    ]
    for spec, field in cases:
        with pytest.raises(SpecError) as caught:
            spec.validate()
        assert caught.value.field == field, spec


def test_enoent_for_an_unknown_registration(lab) -> None:
    with pytest.raises(RegistrationRejected) as caught:
        lab.remove_registration(12345)
    assert caught.value.errno == errno.ENOENT
    assert lib.lab_deassign(lab._lab, 999, ffi.NULL) == -errno.ENOENT


def test_emfile_says_which_limit_and_how_many(lab) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    import os

    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 8, hard))
    try:
        with pytest.raises(RegistrationRejected) as caught:
            for port in range(0x100, 0x200):
                lab.add_registration(RegistrationSpec(Bus.PIO, port, 1))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    err = caught.value
    assert err.errno == errno.EMFILE
    assert "open-file limit" in str(err) and "ulimit -n" in str(err)
    assert f"{len(lab.registrations())} registrations" in str(err)


def test_a_removed_registration_keeps_its_final_count(lab) -> None:
    lab.set_plan([SlotSpec(Bus.PIO, PORT, 1, 0x42, 4)])
    reg = lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 1))
    lab.start()
    import time

    time.sleep(0.2)
    final = lab.remove_registration(reg)
    assert final.removed and final.signals > 0 and final.signals == final.rings
    time.sleep(0.2)
    checkpoint = lab.checkpoint()
    (door,) = checkpoint.doorbells
    assert door.signals == final.signals  # kept after removal
    assert door.exits > 0  # and the exits took over
    assert checkpoint.conserved and checkpoint.attribution_ok
