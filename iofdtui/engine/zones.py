"""The lab's coalesced zones: the live ones by id, the final counts of those
removed, the drain mode, and which device the kernel hands a write to when a
zone and an ioeventfd both cover it.

Which device takes a write (measured on this machine's kernel, and what
`virt/kvm/kvm_main.c` does): the bus keeps its devices in an array; a new
device goes before the first one that `kvm_io_bus_cmp` puts after it (one
that starts later, or starts at the same address and ends later), otherwise
after every one it overlaps.  A write walks, in array order, the devices that
contain it, and the first one that accepts it takes it: an ioeventfd whose
address, width and trigger match, or a zone whose ring has room.  So a zone
registered over an existing ioeventfd sits behind it (the ioeventfd takes its
writes); an ioeventfd registered inside an existing zone that starts lower
sits behind the zone: the zone takes the writes while the ring has room, and
a full ring hands them to the ioeventfd (an *overflow*: how the writes split
depends on when the ring is drained, so only the doorbell's total is exact).

Every method takes the native handle from `Lab`, which holds its lock and has
paused the guest.
"""

from __future__ import annotations

import errno as E
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, format_addr
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.registrations import Registration
from iofdtui.engine.zone_stats import DRAIN_MODES, RingStats, ZoneSpec, ZoneStats

_STAGE_TEXT = {
    lib.LAB_ZONE_CAP_MMIO: (
        "this kernel has no coalesced MMIO (KVM_CAP_COALESCED_MMIO is 0): zones need it; "
        "use an ioeventfd registration instead"
    ),
    lib.LAB_ZONE_CAP_PIO: (
        "this kernel has no coalesced PIO (KVM_CAP_COALESCED_PIO): make an MMIO zone, or "
        "use an ioeventfd registration for ports"
    ),
    lib.LAB_ZONE_TABLE: "no room for another zone (iofdtui keeps at most 64): remove one first",
}


class _Device(NamedTuple):
    """One device on the mirrored io bus: ("reg", id) or ("zone", id), and its range."""

    key: tuple[str, int]
    addr: int
    length: int


def _cmp(addr1: int, len1: int, addr2: int, len2: int) -> int:
    """`kvm_io_bus_cmp(r1, r2)` (virt/kvm/kvm_main.c), on plain numbers."""
    if addr1 < addr2:
        return -1
    if len2:
        addr1 += len1
        addr2 += len2
    return 1 if addr1 > addr2 else 0


class Route(NamedTuple):
    """Where a slot's writes go: a zone (maybe with an ioeventfd behind it that
    takes them while the ring is full), a registration, or the userspace exit."""

    zone: int | None
    registration: int | None  # the taker, or the zone's overflow


@dataclass
class Zone:
    """One live zone."""

    id: int
    spec: ZoneSpec
    native_id: int


class Zones:
    """Live zones (id -> Zone), removed zones' final counts, the bus order."""

    def __init__(self) -> None:
        self.live: dict[int, Zone] = {}
        self.removed: list[ZoneStats] = []
        self.drain = DRAIN_MODES[0]
        self._next_id = 1
        self._bus: dict[Bus, list[_Device]] = {Bus.PIO: [], Bus.MMIO: []}

    # ------------------------------------------------------------ the bus

    def _insert(self, bus: Bus, device: _Device) -> None:
        """Where `kvm_io_bus_register_dev` puts a new device."""
        devices = self._bus[bus]
        at = next(
            (
                i
                for i, d in enumerate(devices)
                if _cmp(d.addr, d.length, device.addr, device.length) > 0
            ),
            len(devices),
        )
        devices.insert(at, device)

    def _drop(self, key: tuple[str, int]) -> None:
        for devices in self._bus.values():
            devices[:] = [d for d in devices if d.key != key]

    def registration_added(self, reg_id: int, spec: RegistrationSpec) -> None:
        """Mirror an ioeventfd the kernel put on the bus."""
        self._insert(spec.bus, _Device(("reg", reg_id), spec.addr, spec.width))

    def registration_removed(self, reg_id: int) -> None:
        """Mirror an ioeventfd the kernel took off the bus."""
        self._drop(("reg", reg_id))

    def route(self, slot: SlotSpec, regs: Mapping[int, Registration]) -> Route:
        """Which device takes `slot`'s writes (see the module's docstring)."""
        if not self.live:
            return Route(None, next((i for i, r in regs.items() if r.spec.serves(slot)), None))
        zone = None
        for device in self._bus[slot.bus]:
            if _cmp(slot.addr, slot.width, device.addr, device.length) != 0:
                continue
            kind, ident = device.key
            if kind == "zone":
                if zone is None and self.live[ident].spec.covers_addr(slot.addr, slot.width):
                    zone = ident
            elif ident in regs and regs[ident].spec.serves(slot):
                return Route(zone, ident)
        return Route(zone, None)

    # ---------------------------------------------------------- changes

    def add(self, handle: object, spec: ZoneSpec) -> int:
        """KVM_REGISTER_COALESCED_MMIO `spec`; its id, or RegistrationRejected in one line."""
        zid, stage = ffi.new("int *"), ffi.new("int *")
        rc = lib.lab_zone_add(
            handle, 1 if spec.bus is Bus.PIO else 0, spec.addr, spec.size, zid, stage
        )
        if rc < 0:
            text = _STAGE_TEXT.get(stage[0])
            if text is None:
                text = (
                    f"the kernel refused {spec.describe()} ({E.errorcode.get(-rc, -rc)}): "
                    "check the range overlaps no other zone"
                )
            raise RegistrationRejected(-rc, text, "addr")
        zone_id = self._next_id
        self._next_id += 1
        self.live[zone_id] = Zone(zone_id, spec, zid[0])
        self._insert(spec.bus, _Device(("zone", zone_id), spec.addr, spec.size))
        return zone_id

    def remove(self, handle: object, zone_id: int) -> ZoneStats:
        """Drain, unregister, and keep the final counts; RegistrationRejected if unknown."""
        zone = self.live.get(zone_id)
        if zone is None:
            raise RegistrationRejected(E.ENOENT, f"no zone #{zone_id}")
        final = ffi.new("struct lab_zone_stats *")
        # A refused unregister leaves the zone the kernel's, and so ours (nothing is lost).
        check(
            lib.lab_zone_remove(handle, zone.native_id, final),
            f"unregistering {zone.spec.describe()}",
        )
        del self.live[zone_id]
        self._drop(("zone", zone_id))
        stats = ZoneStats(zone_id, zone.spec, final.entries, final.ring_full, removed=True)
        self.removed.append(stats)
        return stats

    def set_drain(self, handle: object, mode: str) -> None:
        """Drain at exits or by a thread (quiescent)."""
        if mode not in DRAIN_MODES:
            raise ValueError(
                f"the drain mode must be one of {', '.join(DRAIN_MODES)}, not {mode!r}"
            )
        native = lib.LAB_DRAIN_EXITS if mode == "exits" else lib.LAB_DRAIN_THREAD
        check(lib.lab_ring_set_drain(handle, native), "setting the ring's drain")
        self.drain = mode

    def reset(self) -> None:
        """Counters were zeroed: forget the removed zones."""
        self.removed.clear()

    # ---------------------------------------------------------- reading

    def read(
        self, handle: object, tsc_khz: int = 0
    ) -> tuple[tuple[ZoneStats, ...], RingStats | None]:
        """Every live zone's counts, then the removed ones'; and the ring's."""
        zones = list(self.live.values())
        out = ffi.new("struct lab_zone_stats[]", max(1, len(zones)))
        ids = ffi.new("int[]", [z.native_id for z in zones] or [0])
        check(lib.lab_zone_read(handle, ids, len(zones), out), "reading the zones")
        stats = tuple(
            ZoneStats(z.id, z.spec, out[i].entries, out[i].ring_full) for i, z in enumerate(zones)
        )
        return stats + tuple(self.removed), read_ring(handle, tsc_khz)


def delay_quantiles(handle: object, mode: int, tsc_khz: int) -> tuple[float, float] | None:
    """p50 and p99 of the delivery delay under drain `mode`, in ns (the midpoint
    of the bucket each falls in, as the engine's quantiles); None: no samples."""
    buf = ffi.new("uint64_t[]", lib.HIST_BUCKETS)
    n = lib.lab_ring_delay_hist(handle, mode, buf, lib.HIST_BUCKETS)
    counts = ffi.unpack(buf, max(n, 0))
    total = sum(counts)
    if not total or not tsc_khz:
        return None
    out = []
    for q in (0.5, 0.99):
        seen = 0
        for bucket, count in enumerate(counts):
            seen += count
            if count and seen >= q * total:
                lo, hi = lib.lab_hist_value(bucket), lib.lab_hist_value(bucket + 1)
                out.append((lo if bucket < 128 else (lo + hi) / 2) * 1e6 / tsc_khz)
                break
    return out[0], out[1]


def read_ring(handle: object, tsc_khz: int = 0) -> RingStats | None:
    """The coalesced ring's counts (None before the first zone or drain mode)."""
    r = ffi.new("struct lab_ring_stats *")
    lib.lab_ring_read(handle, r)
    if not r.capacity:
        return None
    delay = None
    if r.delay_samples:
        mode = lib.LAB_DRAIN_THREAD if r.mode == lib.LAB_DRAIN_THREAD else lib.LAB_DRAIN_EXITS
        delay = delay_quantiles(handle, mode, tsc_khz)
    last = None
    if r.stray_entries:
        bus = Bus.PIO if r.stray_pio else Bus.MMIO
        addr = format_addr(bus, r.stray_addr)
        last = f"{bus.value} {addr}/{r.stray_len} ←{r.stray_value:#x}"
    return RingStats(
        mode=DRAIN_MODES[r.mode] if 0 <= r.mode < len(DRAIN_MODES) else "exits",
        capacity=r.capacity,
        drains=r.drains,
        entries=r.entries,
        found_max=r.found_max,
        full_drains=r.full_drains,
        stray=r.stray_entries,
        bad=r.bad_entries,
        scribbled=r.scribbled,
        repaired=r.repaired,
        last_stray=last,
        delay_p50_ns=delay[0] if delay else None,
        delay_p99_ns=delay[1] if delay else None,
        delay_samples=r.delay_samples,
        delay_untimed=r.delay_untimed,
    )


def zoned_attribution_ok(
    slots: Mapping[int, SlotSpec],
    zoned: Mapping[int, tuple[int, int | None]],
    overflowed: set[tuple[Bus, int, int, int]],
    slot_stats: object,
) -> bool:
    """Each zoned doorbell write got its rings as ring entries or ring-full
    exits: exactly, or at most when it has had an ioeventfd behind its zone
    since reset (`overflowed`: that one takes the writes a full ring refuses).
    Summed over the vCPUs that make the same write, as the ring does not say
    which vCPU wrote an entry."""
    groups: dict[tuple[Bus, int, int, int], list[int]] = {}
    for index in zoned:
        spec = slots[index]
        groups.setdefault((spec.bus, spec.addr, spec.width, spec.value), []).append(index)
    for key, indexes in groups.items():
        stats = [slot_stats[i] for i in indexes]  # type: ignore[index]
        took = sum(st.entries + st.ring_full for st in stats)
        rung = sum(st.rings_zone for st in stats)
        if took > rung or (took != rung and key not in overflowed):
            return False
    return True
