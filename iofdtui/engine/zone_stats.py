"""Coalesced zones as plain data: what a user asks for (`ZoneSpec`) and what a
reading says of each zone and of the ring (`ZoneStats`, `RingStats`).

No native engine here, so snapshots and recordings load it anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from iofdtui.engine.guest_abi import IOAPIC_BASE, LAPIC_BASE, RT_PORT, RT_USER_PORT
from iofdtui.engine.model import (
    GUEST_RAM_SIZE,
    RESERVED_PORTS,
    Bus,
    SpecError,
    _bus,
    _integer,
    _set,
    format_addr,
)

DRAIN_MODES: tuple[str, ...] = ("exits", "thread")
"""Who drains the ring: the vCPU thread at every userspace exit (as VMMs do),
or a thread every 100 µs; readings and pauses drain it in both."""

# iofdtui's own ports: a zone over one would swallow the park handshake or the
# round trip's kicks (an OUT into a zone never exits).
_OWN_PORTS = frozenset(RESERVED_PORTS | {RT_PORT, RT_USER_PORT})

_OWN_MMIO = ((IOAPIC_BASE, 0x100, "the IOAPIC"), (LAPIC_BASE, 0x1000, "the local APIC"))
"""(start, size, what) of the MMIO the guest's completions use: a zone ahead of the
in-kernel IOAPIC on the bus would swallow the pins' programming."""


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    """One coalesced zone (`KVM_REGISTER_COALESCED_MMIO`): bus, start, size.

    A write wholly inside the zone is appended to the coalesced ring instead
    of exiting (PIO zones: `pio = 1`, `KVM_CAP_COALESCED_PIO`).
    """

    bus: Bus
    addr: int
    size: int

    def __post_init__(self) -> None:
        _set(self, "bus", _bus(self.bus))
        _set(self, "addr", _integer(self.addr, "addr", "a port or guest-physical address"))
        _set(self, "size", _integer(self.size, "size", "the zone's length in bytes"))

    def validate(self) -> None:
        """Refuse a zone the kernel would refuse, or one that would break the lab."""
        limit = 0x10000 if self.bus is Bus.PIO else 1 << 64
        if not 0 <= self.addr < limit:
            raise SpecError(
                f"address {self.addr:#x} is outside the {self.bus.value.upper()} space "
                f"(0..{limit - 1:#x})",
                "addr",
            )
        if not 1 <= self.size <= 0xFFFF_FFFF:
            raise SpecError("a zone's size is 1 byte to 4 GiB - 1 (a u32)", "size")
        if self.addr + self.size > limit:
            raise SpecError(
                f"{self.addr:#x} + {self.size:#x} runs past the end of the "
                f"{self.bus.value.upper()} space: make it smaller",
                "size",
            )
        if self.bus is Bus.PIO:
            own = sorted(p for p in _OWN_PORTS if self.covers_addr(p))
            if own:
                raise SpecError(
                    f"the zone covers port {own[0]:#x}, iofdtui's own (pause handshake or "
                    "round trip): a write there would never exit; pick another range",
                    "addr",
                )
        elif self.addr < GUEST_RAM_SIZE:
            raise SpecError(
                f"{self.addr:#x} is guest RAM (below {GUEST_RAM_SIZE:#x}): writes there never "
                "reach a zone; use an address such as 0xfe000000",
                "addr",
            )
        else:
            for start, size, what in _OWN_MMIO:
                if self.addr < start + size and start < self.addr + self.size:
                    raise SpecError(
                        f"the zone overlaps {what} at {start:#x}: the guest's completions "
                        "need its writes; pick another range",
                        "addr",
                    )

    def covers_addr(self, addr: int, width: int = 1) -> bool:
        """Whether a write of `width` bytes at `addr` lies wholly inside the zone."""
        return self.addr <= addr and addr + width <= self.addr + self.size

    def describe(self) -> str:
        """Short human form, e.g. `zone pio 0x0600+0x8`."""
        return f"zone {self.bus.value} {format_addr(self.bus, self.addr)}+{self.size:#x}"


@dataclass(frozen=True, slots=True)
class ZoneStats:
    """One zone at a reading: its entries, and its writes that found the ring
    full (they exited; the doorbells count them among the exits)."""

    id: int
    spec: ZoneSpec
    entries: int
    ring_full: int
    removed: bool = False


@dataclass(frozen=True, slots=True)
class RingStats:
    """The coalesced ring at a reading (since the last reset).

    `drains` found at least one entry; `found_max` is the most one found,
    and `full_drains` found the ring full (`capacity - 1` entries: one slot
    always stays empty).  `stray` entries match no slot of the plan, `bad`
    ones have an impossible length; `scribbled` counts drains that found the
    ring's `first` or `last` out of place (put back: `first` at once, `last`
    at the next pause, `repaired`).  The delay figures are None until a paced
    drain timed an entry.
    """

    mode: str
    capacity: int
    drains: int
    entries: int
    found_max: int
    full_drains: int
    stray: int
    bad: int
    scribbled: int
    repaired: int
    last_stray: str | None = None
    # Paced mode: the delivery delay, from the guest's stamp just before a write to
    # the drain that saw its entry (timed when a drain found it alone:
    # `delay_samples`; the others drained while paced: `delay_untimed`), under the
    # drain mode in force.
    delay_p50_ns: float | None = None
    delay_p99_ns: float | None = None
    delay_samples: int = 0
    delay_untimed: int = 0

    @property
    def mean_found(self) -> float | None:
        """Entries per drain that found any (the ring's occupancy when drained)."""
        return self.entries / self.drains if self.drains else None
