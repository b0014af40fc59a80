"""The guest ABI's constants that the engine's data types need, in pure Python.

`guests/guest_abi.h` is the one source; the compiled engine exposes the same
values as `native.lib.*`.  They are copied here so that the snapshot types
(and so replay, on a machine with no /dev/kvm and no built engine) import
without loading the native library.  `tests/engine/test_guest_abi.py` checks
every value against `lib`'s, so a change to the header that is not made here
fails the tests.
"""

from __future__ import annotations

GUEST_RAM_SIZE = 0x100000
"""Guest RAM at gpa 0; MMIO doorbells must sit above it."""
PARK_PORT = 0x510
"""The port the guest writes to park (never registered)."""
FAULT_PORT = 0x511
"""The port the guest writes to report a fault."""
MAX_SLOTS = 16
"""Slots in one ring plan."""
MAX_ITERS = 4096
"""Most blocks of RING_UNROLL rings in one visit (a slot's weight)."""
RING_UNROLL = 16
"""Rings per unrolled block."""
MAX_VCPUS = 2
"""vCPUs one VM runs."""

KIND_PIO1 = 0
KIND_PIO2 = 1
KIND_PIO4 = 2
KIND_MMIO1 = 3
KIND_MMIO2 = 4
KIND_MMIO4 = 5
KIND_MMIO8 = 6

RT_PORT = 0x0520
"""The round trip's kick port (its own VM; a lab zone over it would swallow the kick)."""
RT_USER_PORT = 0x0521
"""The round trip's exit-path kick port."""
IOAPIC_BASE = 0xFEC00000
"""The in-kernel IOAPIC's registers (a completion's pin is programmed there)."""
LAPIC_BASE = 0xFEE00000
"""The local APIC's registers (the completion handler's EOI)."""

NAMES: tuple[str, ...] = (
    "GUEST_RAM_SIZE",
    "PARK_PORT",
    "FAULT_PORT",
    "MAX_SLOTS",
    "MAX_ITERS",
    "RING_UNROLL",
    "MAX_VCPUS",
    "KIND_PIO1",
    "KIND_PIO2",
    "KIND_PIO4",
    "KIND_MMIO1",
    "KIND_MMIO2",
    "KIND_MMIO4",
    "KIND_MMIO8",
    "RT_PORT",
    "RT_USER_PORT",
    "IOAPIC_BASE",
    "LAPIC_BASE",
)
"""Every constant above, by the name `native.lib` gives it."""
