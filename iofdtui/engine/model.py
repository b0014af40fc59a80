"""What a user can ask for: registrations and ring-plan slots, validated.

The matching and collision rules mirror the kernel's `ioeventfd_in_range()`
and `ioeventfd_check_collision()` (virt/kvm/eventfd.c), so the engine can say
which registration serves a write, and name the one a new registration
collides with, before and after asking the kernel.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Mapping
from dataclasses import dataclass

from iofdtui.engine import guest_abi as abi

GUEST_RAM_SIZE: int = abi.GUEST_RAM_SIZE
RESERVED_PORTS: frozenset[int] = frozenset({abi.PARK_PORT, abi.FAULT_PORT})
MAX_SLOTS: int = abi.MAX_SLOTS
MAX_WEIGHT: int = abi.MAX_ITERS
RING_UNROLL: int = abi.RING_UNROLL


class Bus(enum.StrEnum):
    """The two buses an x86 guest can ring a doorbell on."""

    PIO = "pio"
    MMIO = "mmio"


# (bus, width) -> the guest's write kind (guests/guest_abi.h KIND_*).
KINDS: dict[tuple[Bus, int], int] = {
    (Bus.PIO, 1): abi.KIND_PIO1,
    (Bus.PIO, 2): abi.KIND_PIO2,
    (Bus.PIO, 4): abi.KIND_PIO4,
    (Bus.MMIO, 1): abi.KIND_MMIO1,
    (Bus.MMIO, 2): abi.KIND_MMIO2,
    (Bus.MMIO, 4): abi.KIND_MMIO4,
    (Bus.MMIO, 8): abi.KIND_MMIO8,
}
KIND_NAMES: dict[int, tuple[Bus, int]] = {kind: key for key, kind in KINDS.items()}

U64_MAX: int = 0xFFFF_FFFF_FFFF_FFFF
GUEST_ADDR_LIMIT: int = 1 << 32  # the guest stores doorbell addresses in 32 bits


class SpecError(ValueError):
    """A registration or slot that cannot work; the message says why and what to do."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _bus(value: object) -> Bus:
    """`value` as a Bus: a Bus, or its name as a string in any case ("pio", "MMIO")."""
    if isinstance(value, Bus):
        return value
    if isinstance(value, str):
        try:
            return Bus(value.strip().lower())
        except ValueError:
            pass
    raise SpecError(f"bus must be Bus.PIO or Bus.MMIO ('pio' or 'mmio'), not {value!r}", "bus")


def _integer(value: object, field: str, what: str) -> int:
    """`value` as a plain int; refuse bools, floats, strings and the like."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)  # type: ignore[arg-type]
        except TypeError:
            pass
    hint = " (parse text first, e.g. int('0x3f8', 0))" if isinstance(value, str) else ""
    raise SpecError(
        f"{field} must be an integer ({what}), not {type(value).__name__} {value!r}{hint}",
        field,
    )


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)  # frozen dataclass: only from __post_init__


def format_addr(bus: Bus, addr: int) -> str:
    """An address as users write it: 4 hex digits for ports, 8 for MMIO."""
    return f"0x{addr:04x}" if bus is Bus.PIO else f"0x{addr:08x}"


@dataclass(frozen=True, slots=True)
class RegistrationSpec:
    """One `KVM_IOEVENTFD` registration: bus, address, length and trigger.

    Attributes:
        bus: PIO or MMIO.
        addr: port number or guest-physical address.
        width: the registration's `len`: 1, 2, 4, 8, or 0 for "any length".
        trigger: the `DATAMATCH` value, or None for a wildcard.

    Types are checked when the spec is made, ranges by `validate()`.  What is
    unambiguous is coerced: a bus given as its name ("pio", "MMIO") becomes
    the `Bus`, and an integer-like number (an `IntEnum`, a NumPy integer:
    anything with `__index__`) a plain int.  Everything else raises
    `SpecError` naming the field: a bus that is no bus, and a bool, float,
    string or None where a number is needed (a string is refused rather than
    guessed at: is "10" decimal or hex?).  So a spec that exists has the
    types the engine and the cffi calls expect.

    Raises:
        SpecError: a field has the wrong type.
    """

    bus: Bus
    addr: int
    width: int
    trigger: int | None = None

    def __post_init__(self) -> None:
        _set(self, "bus", _bus(self.bus))
        _set(self, "addr", _integer(self.addr, "addr", "a port or guest-physical address"))
        _set(self, "width", _integer(self.width, "width", "the length in bytes: 0, 1, 2, 4 or 8"))
        if self.trigger is not None:
            trigger = _integer(self.trigger, "trigger", "the DATAMATCH value, or None")
            _set(self, "trigger", trigger)

    @property
    def doorbell(self) -> tuple[Bus, int]:
        """The doorbell (bus, address) this registration sits on."""
        return (self.bus, self.addr)

    def validate(self, any_length_supported: bool = True) -> None:
        """Refuse what the kernel would reject, or accept but never fire.

        The kernel's own checks (`kvm_ioeventfd()`, virt/kvm/eventfd.c) are
        mirrored exactly: len in {0, 1, 2, 4, 8}; `addr + len < addr` in u64
        arithmetic (the range wraps past 2**64) is EINVAL; DATAMATCH with
        len 0 is EINVAL.  The rest refuses what the kernel accepts but no
        write can ever fire: a port above 0xffff, PIO len 8, a trigger wider
        than the write, an MMIO address in guest RAM, and iofdtui's own ports.
        """
        limit = 0xFFFF if self.bus is Bus.PIO else U64_MAX
        if not 0 <= self.addr <= limit:
            raise SpecError(
                f"address {self.addr:#x} is outside the {self.bus.value.upper()} space "
                f"(0..{limit:#x})",
                "addr",
            )
        if self.width not in (0, 1, 2, 4, 8):
            raise SpecError("width must be 1, 2, 4 or 8 bytes, or 0 for any length", "width")
        if self.bus is Bus.PIO and self.width == 8:
            raise SpecError(
                "PIO width 8 can never fire: an x86 OUT writes at most 4 bytes; use 1, 2 or 4",
                "width",
            )
        if self.width == 0 and not any_length_supported:
            raise SpecError(
                "this kernel lacks KVM_CAP_IOEVENTFD_ANY_LENGTH: pick width 1, 2, 4 or 8",
                "width",
            )
        if self.width == 0 and self.trigger is not None:
            raise SpecError(
                "a trigger value needs a width: the kernel refuses DATAMATCH with len 0",
                "trigger",
            )
        if self.addr + self.width > U64_MAX:
            # The kernel's `if (args->addr + args->len < args->addr) return -EINVAL;`
            raise SpecError(
                f"{self.addr:#x} + {self.width} wraps past 2**64: the kernel refuses it (EINVAL); "
                "pick a lower address or a smaller width",
                "addr",
            )
        if self.bus is Bus.PIO and self.addr in RESERVED_PORTS:
            raise SpecError(
                f"port {self.addr:#x} is iofdtui's own pause handshake; pick another port", "addr"
            )
        if self.bus is Bus.MMIO and self.addr < GUEST_RAM_SIZE:
            raise SpecError(
                f"{self.addr:#x} is guest RAM (below {GUEST_RAM_SIZE:#x}): writes there never "
                "exit, so it can never ring; use an address such as 0xfe000000",
                "addr",
            )
        if self.trigger is not None and not 0 <= self.trigger < 1 << (8 * self.width):
            raise SpecError(
                f"trigger {self.trigger:#x} does not fit in {self.width} byte(s), so no "
                "write could ever match it",
                "trigger",
            )

    def fits_kernel(self) -> bool:
        """Whether the fields fit `struct kvm_ioeventfd` at all (u64 addr and
        datamatch, u32 len), the one check kept with `prevalidate=False`."""
        u64 = range(1 << 64)
        return (
            self.addr in u64
            and self.width in range(1 << 32)
            and (self.trigger is None or self.trigger in u64)
        )

    def serves(self, slot: SlotSpec) -> bool:
        """Whether the kernel hands a write by `slot` to this registration."""
        if slot.bus is not self.bus or slot.addr != self.addr:
            return False
        if self.width == 0:
            return True
        if slot.width != self.width:
            return False
        return self.trigger is None or self.trigger == slot.value

    def collides(self, other: RegistrationSpec) -> bool:
        """The kernel's EEXIST rule (`ioeventfd_check_collision`)."""
        if self.bus is not other.bus or self.addr != other.addr:
            return False
        if self.width == 0 or other.width == 0:
            return True
        if self.width != other.width:
            return False
        return self.trigger is None or other.trigger is None or self.trigger == other.trigger

    def describe(self) -> str:
        """Short human form, e.g. `pio 0x03f8/1 =0x42`."""
        width = "any" if self.width == 0 else str(self.width)
        trig = "any value" if self.trigger is None else f"={self.trigger:#x}"
        return f"{self.bus.value} {format_addr(self.bus, self.addr)}/{width} {trig}"


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """One doorbell write in the guest's ring plan.

    Attributes:
        bus: PIO or MMIO.
        addr: port or guest-physical address.
        width: bytes written: 1, 2, 4 (and 8 on MMIO).
        value: the value written.
        weight: blocks of 16 rings per visit; each visit also rings once timed.

    Types are checked (and a bus name or an integer-like number coerced) when
    the slot is made, as for `RegistrationSpec`; ranges by `validate()`.

    Raises:
        SpecError: a field has the wrong type.
    """

    bus: Bus
    addr: int
    width: int
    value: int
    weight: int = 32

    def __post_init__(self) -> None:
        _set(self, "bus", _bus(self.bus))
        _set(self, "addr", _integer(self.addr, "addr", "a port or guest-physical address"))
        _set(self, "width", _integer(self.width, "width", "bytes written: 1, 2, 4 or 8"))
        _set(self, "value", _integer(self.value, "value", "the value written"))
        _set(self, "weight", _integer(self.weight, "weight", f"0..{MAX_WEIGHT} blocks of rings"))

    @property
    def kind(self) -> int:
        """The guest's write kind for this bus and width."""
        return KINDS[(self.bus, self.width)]

    @property
    def rings_per_visit(self) -> int:
        """Rings the guest makes each time it visits this slot."""
        return self.weight * RING_UNROLL + 1

    @property
    def doorbell(self) -> tuple[Bus, int]:
        """The doorbell (bus, address) this slot rings."""
        return (self.bus, self.addr)

    def validate(self) -> None:
        """Refuse a write the guest cannot make or that could never exit."""
        if (self.bus, self.width) not in KINDS:
            allowed = "1, 2 or 4" if self.bus is Bus.PIO else "1, 2, 4 or 8"
            raise SpecError(f"a {self.bus.value.upper()} write is {allowed} bytes wide", "width")
        if self.bus is Bus.MMIO and self.addr >= GUEST_ADDR_LIMIT:
            raise SpecError(
                "MMIO doorbells must be below 4 GiB: the guest writes 32-bit addresses", "addr"
            )
        RegistrationSpec(self.bus, self.addr, self.width).validate()
        if not 0 <= self.value < 1 << (8 * self.width):
            raise SpecError(f"value {self.value:#x} does not fit in {self.width} byte(s)", "value")
        if not 0 <= self.weight <= MAX_WEIGHT:
            raise SpecError(f"weight must be 0..{MAX_WEIGHT}", "weight")

    def describe(self) -> str:
        """Short human form, e.g. `pio 0x03f8/1 ←0x42`."""
        return f"{self.bus.value} {format_addr(self.bus, self.addr)}/{self.width} ←{self.value:#x}"


def collision(spec: RegistrationSpec, existing: Mapping[int, RegistrationSpec]) -> int | None:
    """The id of the first registration in `existing` that `spec` collides with, or None.

    The kernel's EEXIST rule (`RegistrationSpec.collides`), checked before
    asking it, so a form can say which one is in the way.  Only what
    `existing` lists is seen (a lab's decoys are not in `registrations()`).
    """
    for reg_id, other in existing.items():
        if other.collides(spec):
            return reg_id
    return None
