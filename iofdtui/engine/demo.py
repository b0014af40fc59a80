"""The demo the app opens on: the mechanism visible with no typing.

- PIO 0x03f8, 1 byte, wildcard: every ring signals its eventfd.
- MMIO 0xfe000000, 4 bytes, trigger 0x1: the guest rings it with 0x1 (hits,
  signals) and with 0x2 (misses, exits to userspace).
- Two never-registered doorbells, one per bus: the userspace-exit baseline.
"""

from __future__ import annotations

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec

DEMO_WEIGHT = 32


def demo_plan() -> list[SlotSpec]:
    """The ring plan: what the guest rings, in order."""
    return [
        SlotSpec(Bus.PIO, 0x03F8, 1, 0x42, DEMO_WEIGHT),
        SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1, DEMO_WEIGHT),
        SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x2, DEMO_WEIGHT),
        SlotSpec(Bus.PIO, 0x0600, 1, 0x00, DEMO_WEIGHT),
        SlotSpec(Bus.MMIO, 0xFE0F_F000, 4, 0x0, DEMO_WEIGHT),
    ]


def demo_registrations() -> list[RegistrationSpec]:
    """The registrations in place at start."""
    return [
        RegistrationSpec(Bus.PIO, 0x03F8, 1),
        RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1),
    ]
