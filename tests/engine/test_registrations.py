"""Registration errors, each from a real KVM_IOEVENTFD ioctl (or a real limit)."""

from __future__ import annotations

import errno
import resource
import time

import pytest

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, SpecError, collision
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


def test_a_refused_deassign_says_the_errno_name(lab) -> None:
    reg = lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 1))
    # Deassigned behind the lab's back: the lab's own deassign is refused.
    assert lib.lab_deassign(lab._lab, lab._regs[reg].native_id, ffi.NULL) == 0
    with pytest.raises(RegistrationRejected) as caught:
        lab.remove_registration(reg)
    assert caught.value.errno == errno.ENOENT
    assert str(caught.value) == f"the kernel refused to deassign #{reg}: ENOENT"
    assert lab.registrations() == {}


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


# ------------------------------------------------ the kernel's wrap check

U64_MAX = (1 << 64) - 1

# (bus, addr, width): each asked of the kernel and of the model.  The kernel
# refuses `addr + len < addr` in u64 arithmetic (kvm_ioeventfd()), on both buses.
TOP_OF_THE_BUS = [
    (Bus.MMIO, U64_MAX - 1, 1),  # ends exactly at 2**64 - 1: allowed
    (Bus.MMIO, U64_MAX, 1),  # + 1 wraps to 0: EINVAL
    (Bus.MMIO, U64_MAX, 0),  # any length: + 0 never wraps
    (Bus.MMIO, U64_MAX - 1, 2),  # wraps
    (Bus.MMIO, U64_MAX - 3, 4),  # wraps
    (Bus.MMIO, U64_MAX - 4, 4),
    (Bus.MMIO, U64_MAX - 7, 8),  # 0xffff_ffff_ffff_fff8 + 8 wraps
    (Bus.MMIO, U64_MAX - 8, 8),
    (Bus.PIO, 0xFFFF, 1),  # the last port
    (Bus.PIO, 0xFFFF, 2),  # runs past 0xffff, but a u64 does not wrap: allowed
    (Bus.PIO, 0xFFFF, 4),
    (Bus.PIO, 0xFFFE, 4),
    (Bus.PIO, 0xFFFF, 0),
]


def _kernel_says(lab, spec: RegistrationSpec) -> int:
    """0 when KVM_IOEVENTFD accepts `spec` (it is removed again), else the errno."""
    try:
        reg = lab.add_registration(spec, prevalidate=False)
    except RegistrationRejected as err:
        return err.errno
    lab.remove_registration(reg)
    return 0


def test_the_wrap_check_agrees_with_the_kernel_at_the_top_of_each_bus(lab) -> None:
    disagree = []
    for bus, addr, width in TOP_OF_THE_BUS:
        if width == 0 and not lab.any_length:
            continue
        spec = RegistrationSpec(bus, addr, width)
        kernel = _kernel_says(lab, spec)
        assert kernel in (0, errno.EINVAL), spec
        try:
            spec.validate(any_length_supported=lab.any_length)
            model = 0
        except SpecError as err:
            assert err.field == "addr" and "\n" not in str(err)
            model = errno.EINVAL
        if kernel != model:
            disagree.append(f"{spec.describe()}: kernel {kernel}, model {model}")
    assert not disagree
    # and the boundary is where it should be
    assert _kernel_says(lab, RegistrationSpec(Bus.MMIO, U64_MAX, 1)) == errno.EINVAL
    assert _kernel_says(lab, RegistrationSpec(Bus.MMIO, U64_MAX - 1, 1)) == 0


def test_ports_above_0xffff_the_kernel_takes_but_no_out_can_reach(lab) -> None:
    """Beyond the kernel: a port no x86 OUT can address is refused, saying so."""
    assert _kernel_says(lab, RegistrationSpec(Bus.PIO, 0x1_0000, 1)) == 0
    with pytest.raises(SpecError) as caught:
        RegistrationSpec(Bus.PIO, 0x1_0000, 1).validate()
    assert caught.value.field == "addr" and "outside the PIO space" in str(caught.value)
    # where the kernel's u64 wraps, it refuses too
    assert _kernel_says(lab, RegistrationSpec(Bus.PIO, U64_MAX, 1)) == errno.EINVAL


def test_the_add_path_refuses_the_wrap_before_the_kernel_does(lab) -> None:
    with pytest.raises(RegistrationRejected) as caught:
        lab.add_registration(RegistrationSpec(Bus.MMIO, U64_MAX, 1))
    assert caught.value.errno == errno.EINVAL and caught.value.field == "addr"
    assert "wraps" in str(caught.value) and "\n" not in str(caught.value)
    assert lab.registrations() == {}


# ------------------------------------------------- 64-bit MMIO, 32-bit guest

FOUR_GIB = 1 << 32


def test_mmio_slots_must_be_below_4_gib() -> None:
    for addr in (FOUR_GIB, FOUR_GIB + MMIO, U64_MAX, 1 << 64):
        with pytest.raises(SpecError) as caught:
            SlotSpec(Bus.MMIO, addr, 4, 1).validate()
        assert caught.value.field == "addr"
        assert str(caught.value) == (
            "MMIO doorbells must be below 4 GiB: the guest writes 32-bit addresses"
        )
    SlotSpec(Bus.MMIO, FOUR_GIB - 4, 4, 1).validate()
    SlotSpec(Bus.MMIO, FOUR_GIB - 8, 8, 1).validate()


def test_registrations_above_4_gib_stay_allowed(lab) -> None:
    """The kernel takes them (a guest with 64-bit stores could ring them)."""
    spec = RegistrationSpec(Bus.MMIO, FOUR_GIB + MMIO, 4)
    spec.validate()
    reg = lab.add_registration(spec)
    assert lab.registrations() == {reg: spec}


# ----------------------------------------------------- types at the edge


def test_a_bus_name_is_taken_as_the_bus() -> None:
    for name, bus in (("pio", Bus.PIO), ("PIO", Bus.PIO), ("mmio", Bus.MMIO), (" Mmio ", Bus.MMIO)):
        assert RegistrationSpec(name, 0x3F8, 1).bus is bus
        assert SlotSpec(name, 0x3F8, 1, 0).bus is bus
    assert RegistrationSpec("pio", PORT, 1) == RegistrationSpec(Bus.PIO, PORT, 1)


@pytest.mark.parametrize("bus", ["pcie", "", "io", 0, 1, None, True, b"pio", ["pio"]])
def test_anything_else_as_a_bus_is_refused(bus: object) -> None:
    for make in (lambda: RegistrationSpec(bus, PORT, 1), lambda: SlotSpec(bus, PORT, 1, 0)):
        with pytest.raises(SpecError) as caught:
            make()
        assert caught.value.field == "bus"
        assert "'pio' or 'mmio'" in str(caught.value) and "\n" not in str(caught.value)


NOT_INTEGERS = [True, False, 1.0, 0x3F8 * 1.0, float("nan"), "0x3f8", "1", b"1", None, [1], 1j]


@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=repr)
@pytest.mark.parametrize("field", ["addr", "width", "trigger"])
def test_registration_numbers_must_be_integers(field: str, bad: object) -> None:
    if field == "trigger" and bad is None:
        return  # None is the wildcard
    fields = {"bus": Bus.PIO, "addr": PORT, "width": 1, "trigger": 0x42}
    fields[field] = bad
    with pytest.raises(SpecError) as caught:
        RegistrationSpec(**fields)
    assert caught.value.field == field
    assert "must be an integer" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("bad", NOT_INTEGERS, ids=repr)
@pytest.mark.parametrize("field", ["addr", "width", "value", "weight"])
def test_slot_numbers_must_be_integers(field: str, bad: object) -> None:
    fields = {"bus": Bus.PIO, "addr": PORT, "width": 1, "value": 0x42, "weight": 4}
    fields[field] = bad
    with pytest.raises(SpecError) as caught:
        SlotSpec(**fields)
    assert caught.value.field == field


def test_integer_like_numbers_become_plain_ints() -> None:
    import enum

    class Port(enum.IntEnum):
        COM1 = 0x3F8

    spec = RegistrationSpec(Bus.PIO, Port.COM1, 1, 0x42)
    assert type(spec.addr) is int and spec == RegistrationSpec(Bus.PIO, 0x3F8, 1, 0x42)
    slot = SlotSpec(Bus.PIO, Port.COM1, 1, 0x42, 4)
    assert type(slot.addr) is int


def test_a_plain_string_bus_works_in_a_running_lab(lab) -> None:
    """The reported bug: "pio" was taken for MMIO and every snapshot raised."""
    lab.set_plan([SlotSpec("pio", PORT, 1, 0x42, 4)])
    reg = lab.add_registration(RegistrationSpec("pio", PORT, 1))
    lab.start()
    snap = lab.snapshot()
    (stats,) = snap.registrations
    assert stats.id == reg and stats.spec.bus is Bus.PIO
    # A loaded machine may not have run the guest yet: let it ring first.
    deadline = time.monotonic() + 10
    while not lab.snapshot().total_rings and time.monotonic() < deadline:
        time.sleep(0.01)
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    (door,) = checkpoint.doorbells
    assert door.bus is Bus.PIO and door.signals == door.rings > 0


# ------------------------------------------------------------ collisions

# (first, second, the kernel says EEXIST): NOTES.md §1's rules, each way round.
COLLISIONS = {
    "len 0 then len 4": (
        RegistrationSpec(Bus.MMIO, MMIO, 0),
        RegistrationSpec(Bus.MMIO, MMIO, 4),
        True,
    ),
    "len 4 then len 0": (
        RegistrationSpec(Bus.MMIO, MMIO, 4, 1),
        RegistrationSpec(Bus.MMIO, MMIO, 0),
        True,
    ),
    "len 0 twice": (RegistrationSpec(Bus.PIO, PORT, 0), RegistrationSpec(Bus.PIO, PORT, 0), True),
    "wildcard twice": (
        RegistrationSpec(Bus.PIO, PORT, 1),
        RegistrationSpec(Bus.PIO, PORT, 1),
        True,
    ),
    "wildcard then trigger": (
        RegistrationSpec(Bus.PIO, PORT, 2),
        RegistrationSpec(Bus.PIO, PORT, 2, 7),
        True,
    ),
    "trigger then wildcard": (
        RegistrationSpec(Bus.MMIO, MMIO, 8, 7),
        RegistrationSpec(Bus.MMIO, MMIO, 8),
        True,
    ),
    "equal triggers": (
        RegistrationSpec(Bus.MMIO, MMIO, 4, 7),
        RegistrationSpec(Bus.MMIO, MMIO, 4, 7),
        True,
    ),
    "other trigger": (
        RegistrationSpec(Bus.MMIO, MMIO, 4, 7),
        RegistrationSpec(Bus.MMIO, MMIO, 4, 8),
        False,
    ),
    "other length": (RegistrationSpec(Bus.PIO, PORT, 1), RegistrationSpec(Bus.PIO, PORT, 2), False),
    "other length, same trigger": (
        RegistrationSpec(Bus.PIO, PORT, 1, 7),
        RegistrationSpec(Bus.PIO, PORT, 4, 7),
        False,
    ),
    "overlapping, next address": (
        RegistrationSpec(Bus.MMIO, MMIO, 8),
        RegistrationSpec(Bus.MMIO, MMIO + 1, 1),
        False,
    ),
    "other bus, same address": (
        RegistrationSpec(Bus.PIO, 0x1000, 4),
        RegistrationSpec(Bus.MMIO, 0x1000, 4),
        False,
    ),
    "other bus, len 0": (
        RegistrationSpec(Bus.MMIO, 0x1000, 0),
        RegistrationSpec(Bus.PIO, 0x1000, 0),
        False,
    ),
}


@pytest.mark.parametrize("case", COLLISIONS, ids=str)
def test_collision_agrees_with_the_kernels_eexist(lab, case: str) -> None:
    first, second, eexist = COLLISIONS[case]
    if (first.width == 0 or second.width == 0) and not lab.any_length:
        pytest.skip("this kernel lacks KVM_CAP_IOEVENTFD_ANY_LENGTH")
    # MMIO 0x1000 is guest RAM (the model refuses it); the kernel is asked as it is
    first_id = lab.add_registration(first, prevalidate=False)
    predicted = collision(second, lab.registrations())
    assert predicted == (first_id if eexist else None)
    try:
        lab.add_registration(second, prevalidate=False)
        kernel_eexist = False
    except RegistrationRejected as err:
        assert err.errno == errno.EEXIST, err
        assert f"#{first_id}" in str(err)
        kernel_eexist = True
    assert kernel_eexist == eexist


def test_collision_names_the_one_in_the_way() -> None:
    existing = {
        3: RegistrationSpec(Bus.MMIO, MMIO, 4, 1),
        5: RegistrationSpec(Bus.MMIO, MMIO, 4, 2),
        9: RegistrationSpec(Bus.PIO, PORT, 1),
    }
    assert collision(RegistrationSpec(Bus.MMIO, MMIO, 4, 2), existing) == 5
    assert collision(RegistrationSpec(Bus.MMIO, MMIO, 4), existing) == 3
    assert collision(RegistrationSpec(Bus.MMIO, MMIO, 4, 3), existing) is None
    assert collision(RegistrationSpec(Bus.PIO, PORT, 1, 0x42), existing) == 9
    assert collision(RegistrationSpec(Bus.PIO, PORT, 1), {}) is None
