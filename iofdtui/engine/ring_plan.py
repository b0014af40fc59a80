"""What the guest rings: slots (one doorbell write each), each vCPU's plan
(the order it rings them), the counts of slots since dropped, and which
registration the kernel hands each slot's writes to (routing).

Native slot s belongs to vCPU s // MAX_SLOTS.  Methods that call the engine
take the native handle from `Lab`, which holds its lock and has paused the
guest (the plan changes between epochs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from iofdtui.engine.arguments import is_int
from iofdtui.engine.model import MAX_SLOTS, Bus, RegistrationSpec, SlotSpec, SpecError
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.registrations import Registration

Doorbell = tuple[Bus, int]


@dataclass
class DoorTotals:
    """Counts at one doorbell: in `RingPlan.retired`, those of slots and
    registrations that are gone; in a reading, the totals with the live ones'."""

    rings: int = 0
    exits: int = 0
    signals: int = 0
    exits_by_value: dict[tuple[int, int], int] = field(default_factory=dict)
    issued: int = 0
    by_vcpu: dict[int, list[int]] = field(default_factory=dict)  # vcpu -> [rings, exits, issued]
    entries: int = 0  # coalesced ring entries
    ring_full: int = 0  # exits of zoned writes that found the ring full
    entries_by_value: dict[tuple[int, int], int] = field(default_factory=dict)

    def add_coalesced(self, width: int, value: int, entries: int, ring_full: int) -> None:
        """Add one slot's ring entries and ring-full exits."""
        self.entries += entries
        self.ring_full += ring_full
        key = (width, value)
        self.entries_by_value[key] = self.entries_by_value.get(key, 0) + entries

    def add_vcpu(self, vcpu: int, rings: int, exits: int, issued: int) -> None:
        """Add one slot's counts to its vCPU's share."""
        share = self.by_vcpu.setdefault(vcpu, [0, 0, 0])
        share[0] += rings
        share[1] += exits
        share[2] += issued

    def as_totals(self) -> DoorTotals:
        """Retired counts as the start of a reading's totals, to add live counts
        to: a copy, with issued = rings (retired slots left at a quiescent
        point, so every ring they issued is done)."""
        return DoorTotals(
            self.rings,
            self.exits,
            self.signals,
            dict(self.exits_by_value),
            self.rings,
            {k: list(v) for k, v in self.by_vcpu.items()},
            self.entries,
            self.ring_full,
            dict(self.entries_by_value),
        )


def _identity(s: SlotSpec) -> tuple[Bus, int, int, int]:
    return (s.bus, s.addr, s.width, s.value)


class RingPlan:
    """The slots, each vCPU's plan, retired counts and the routes."""

    def __init__(self, vcpus: int) -> None:
        self.vcpus = vcpus
        self.slots: dict[int, SlotSpec] = {}  # native slot index -> spec
        self.order: list[list[int]] = [[] for _ in range(vcpus)]  # vCPU -> slot indexes
        self.retired: dict[Doorbell, DoorTotals] = {}  # gone slots' and registrations'
        self.routes: dict[int, int | None] = {}  # slot index -> the registration serving it
        # Slot index -> (zone, the registration it overflows to) for slots whose
        # writes land in a coalesced zone (their `routes` entry is None).
        self.zoned: dict[int, tuple[int, int | None]] = {}
        # Since reset: the doorbell writes a full zone handed to an ioeventfd behind
        # it, and those ioeventfds (how the writes split is not predictable).
        self.overflowed: set[tuple[Bus, int, int, int]] = set()
        self.overflow_regs: set[int] = set()
        # Lab sets it when zones exist: (slot, regs) -> (zone or None, registration or None).
        self.router: Callable[[SlotSpec, Mapping[int, Registration]], tuple[int | None, int | None]]
        self.router = lambda spec, regs: (None, self.serving(spec, regs))
        # Bumped at every change of slots, routes or retired doorbells, so a
        # reading can keep what depends only on them and on the registrations
        # (`Registrations.generation`): the doorbells' order, the rows' widths.
        self.layout = 0

    def check_vcpu(self, vcpu: object) -> None:
        """Refuse a vCPU this lab does not have."""
        if not is_int(vcpu) or not 0 <= vcpu < self.vcpus:  # type: ignore[operator]
            raise SpecError(f"vCPU {vcpu!r} does not exist (this lab has {self.vcpus})", "plan")

    def check(self, slots: Sequence[SlotSpec], vcpu: int) -> None:
        """Refuse a plan the guest cannot ring, before anything changes."""
        self.check_vcpu(vcpu)
        if isinstance(slots, (str, bytes)) or not isinstance(slots, Sequence):
            raise SpecError("a plan is a list of SlotSpec", "plan")
        if any(not isinstance(s, SlotSpec) for s in slots):
            raise SpecError("a plan holds SlotSpecs only", "plan")
        for slot in slots:
            slot.validate()
        identities = [_identity(s) for s in slots]
        if len(set(identities)) != len(identities):
            raise SpecError("the same doorbell write appears twice in the plan", "value")
        if len(slots) > MAX_SLOTS:
            raise SpecError(f"the guest rings at most {MAX_SLOTS} writes", "plan")

    def plan(self, vcpu: int) -> list[SlotSpec]:
        """vCPU `vcpu`'s slots in the order it rings them."""
        return [self.slots[i] for i in self.order[vcpu]]

    def define(
        self, handle: object, slots: Sequence[SlotSpec], vcpu: int, regs: Mapping[int, Registration]
    ) -> None:
        """Make `slots` vCPU `vcpu`'s plan: keep the slots it still rings (and
        their counts), retire the others, define the new ones, route them."""
        mine = range(vcpu * MAX_SLOTS, (vcpu + 1) * MAX_SLOTS)  # this vCPU's counter pages
        wanted = {_identity(s): s for s in slots}
        kept: dict[tuple[Bus, int, int, int], int] = {}
        final = ffi.new("struct lab_slot_stats *")
        for index, spec in list(self.slots.items()):
            if index not in mine:
                continue
            if _identity(spec) in wanted:
                kept[_identity(spec)] = index
                continue
            check(lib.lab_clear_slot(handle, index, final), "clearing a slot")
            self._retire(spec, final, vcpu)
            del self.slots[index]
        order = []
        for spec in slots:
            index = kept.get(_identity(spec))
            if index is None:
                index = next(i for i in mine if i not in self.slots)
                check(
                    lib.lab_define_slot(handle, index, spec.kind, spec.addr, spec.value, final),
                    "defining a slot",
                )
            self.slots[index] = spec
            order.append(index)
        self.order[vcpu] = order
        check(
            lib.lab_set_plan(
                handle,
                vcpu,
                ffi.new("int[]", order),
                ffi.new("uint32_t[]", [self.slots[i].weight for i in order]),
                len(order),
            ),
            "writing the ring plan",
        )
        self.route_all(handle, regs)

    def _retire(self, spec: SlotSpec, final: object, vcpu: int) -> None:
        retired = self.retired.setdefault(spec.doorbell, DoorTotals())
        rings, exits = final.rings, final.exits  # type: ignore[attr-defined]
        retired.rings += rings
        retired.exits += exits
        # Cleared at a quiescent point: every ring it issued is done.
        retired.add_vcpu(vcpu, rings, exits, rings)
        key = (spec.width, spec.value)
        retired.exits_by_value[key] = retired.exits_by_value.get(key, 0) + exits
        retired.add_coalesced(spec.width, spec.value, final.entries, final.ring_full)  # type: ignore[attr-defined]

    def reset(self) -> None:
        """Counters were zeroed: forget the counts of slots since dropped."""
        self.retired.clear()
        self.overflowed.clear()
        self.overflow_regs.clear()
        self.layout += 1

    def retire_signals(self, spec: RegistrationSpec, signals: int) -> None:
        """Keep a removed registration's signals with its doorbell."""
        self.retired.setdefault((spec.bus, spec.addr), DoorTotals()).signals += signals
        self.layout += 1  # the doorbell may be a new retired one

    def doorbells_rung(self) -> set[Doorbell]:
        """Every doorbell a slot writes to."""
        return {s.doorbell for s in self.slots.values()}

    @staticmethod
    def serving(spec: SlotSpec, regs: Mapping[int, Registration]) -> int | None:
        """The registration the kernel hands this slot's writes to, if any."""
        for rid, reg in regs.items():
            if reg.spec.serves(spec):
                return rid
        return None

    def route_all(self, handle: object, regs: Mapping[int, Registration]) -> None:
        """Tell the engine which registration serves each slot (-1: the userspace exit)."""
        self.layout += 1
        self.routes = {}
        self.zoned = {}
        for index, spec in self.slots.items():
            zone, rid = self.router(spec, regs)
            if zone is not None:
                self.zoned[index] = (zone, rid)
                if rid is not None:
                    self.overflowed.add(_identity(spec))
                    self.overflow_regs.add(rid)
                rid = None
            self.routes[index] = rid
            native = -1 if rid is None else regs[rid].native_id
            if zone is not None:
                native = lib.LAB_ROUTE_ZONE
            check(lib.lab_set_route(handle, index, native), "routing a slot")

    def baseline_width(self, spec: RegistrationSpec) -> int:
        """The width whose userspace exit is `spec`'s baseline: its own, or for an
        any-length registration the width of a write it serves (0: none)."""
        if spec.width:
            return spec.width
        return next((s.width for s in self.slots.values() if spec.serves(s)), 0)

    def rings_since_reset(self, slot_stats: object) -> int:
        """Every ring since reset, those of slots the plan has since dropped too."""
        return sum(slot_stats[i].rings for i in self.slots) + sum(  # type: ignore[index]
            r.rings for r in self.retired.values()
        )
