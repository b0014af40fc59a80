"""Per doorbell (bus + address): the rings, signals and exits there, from the
counts of slots and registrations that are gone plus the live ones'.

Which doorbells there are, which registrations sit on each and their order
change only with the live set (`LiveSet`: a new one at any change of
registrations, or of the ring plan's slots, routes or retired doorbells), so a
tally keeps them while it is the same object.  A
doorbell only registrations sit on (most of 1,000 registrations) keeps its
row while its signals are unchanged.
"""

from __future__ import annotations

from operator import itemgetter

from iofdtui.engine.model import MAX_SLOTS
from iofdtui.engine.registrations import NO_LIVE_SET, LiveSet, Registration
from iofdtui.engine.ring_plan import Doorbell, DoorTotals, RingPlan
from iofdtui.engine.snapshot import DoorbellStats, VcpuCounts


class DoorbellTally:
    """Builds each reading's DoorbellStats, keeping the layout between readings."""

    def __init__(self, vcpus: int) -> None:
        self.vcpus = vcpus
        self._idle = tuple(VcpuCounts(k, 0, 0, 0) for k in range(vcpus))
        self._live_set = NO_LIVE_SET  # the live set the layout below was built for
        self._busy: list[tuple[Doorbell, list[int]]] = []  # slots or retired counts there
        self._quiet: list[tuple[Doorbell, list[int]]] = []  # registrations only
        self._quiet_rows: list[DoorbellStats | None] = []
        self._quiet_members: list[int] = []  # the registrations on quiet doorbells
        self._quiet_seen: object = None  # those registrations' signals at the last reading
        self._order: list[int] = []  # positions in busy + quiet, sorted by doorbell

    def _plan_layout(self, plan: RingPlan, live: list[Registration]) -> None:
        busy_keys = set(plan.retired) | {spec.doorbell for spec in plan.slots.values()}
        busy: dict[Doorbell, list[int]] = {key: [] for key in busy_keys}
        quiet: dict[Doorbell, list[int]] = {}
        for i, reg in enumerate(live):
            door = reg.spec.doorbell
            (busy if door in busy_keys else quiet).setdefault(door, []).append(i)
        self._busy = list(busy.items())
        self._quiet = list(quiet.items())
        self._quiet_rows = [None] * len(self._quiet)
        self._quiet_members = [i for _, regs in self._quiet for i in regs]
        self._quiet_seen = None
        doors = [door for door, _ in self._busy] + [door for door, _ in self._quiet]
        # Bus is a StrEnum: (bus, addr) keys sort by bus name, then address.
        self._order = sorted(range(len(doors)), key=doors.__getitem__)

    def rows(
        self, plan: RingPlan, live_set: LiveSet, signals: list[int], slot_stats: object
    ) -> tuple[DoorbellStats, ...]:
        """Every doorbell's counts: the live registrations with their `signals`,
        the plan's slots with `slot_stats` (struct lab_slot_stats[]), sorted."""
        if live_set is not self._live_set:
            self._plan_layout(plan, live_set.regs)
            self._live_set = live_set
        totals = {
            door: plan.retired[door].as_totals() for door, _ in self._busy if door in plan.retired
        }
        for index, spec in plan.slots.items():
            st = slot_stats[index]  # type: ignore[index]
            door = totals.get(spec.doorbell)
            if door is None:
                door = totals[spec.doorbell] = DoorTotals()
            door.rings += st.rings
            door.issued += st.issued
            door.exits += st.exits
            door.add_vcpu(index // MAX_SLOTS, st.rings, st.exits, st.issued)
            key = (spec.width, spec.value)
            door.exits_by_value[key] = door.exits_by_value.get(key, 0) + st.exits
            if st.entries or st.ring_full:
                door.add_coalesced(spec.width, spec.value, st.entries, st.ring_full)
        out = []
        for (bus, addr), regs in self._busy:
            t = totals.get((bus, addr)) or DoorTotals()
            t.signals += sum(signals[i] for i in regs)
            out.append(
                DoorbellStats(
                    bus=bus,
                    addr=addr,
                    rings=t.rings,
                    signals=t.signals,
                    exits=t.exits,
                    issued=t.issued,
                    exits_by_value=tuple(
                        (w, v, n) for (w, v), n in sorted(t.exits_by_value.items()) if n
                    ),
                    per_vcpu=tuple(
                        VcpuCounts(k, *t.by_vcpu.get(k, (0, 0, 0))) for k in range(self.vcpus)
                    ),
                    entries=t.entries,
                    entries_by_value=tuple(
                        (w, v, n) for (w, v), n in sorted(t.entries_by_value.items()) if n
                    ),
                    ring_full=t.ring_full,
                )
            )
        quiet_rows = self._quiet_rows
        # Most readings find every quiet registration's signals as they were.
        seen = [signals[i] for i in self._quiet_members]
        if seen != self._quiet_seen:
            for j, ((bus, addr), regs) in enumerate(self._quiet):
                sig = signals[regs[0]] if len(regs) == 1 else sum(signals[i] for i in regs)
                row = quiet_rows[j]
                if row is None or row.signals != sig:
                    row = quiet_rows[j] = DoorbellStats(bus, addr, 0, sig, 0, (), 0, self._idle)
            self._quiet_seen = seen
        out.extend(quiet_rows)  # type: ignore[arg-type]
        if len(out) < 2:
            return tuple(out)
        return itemgetter(*self._order)(out)  # type: ignore[no-any-return]
