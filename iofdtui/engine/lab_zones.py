"""`Lab`'s coalesced zones: add and remove them, the ring's drain mode, and
the test hook that scribbles over the ring.

A base class of `Lab` (lab.py), which owns the native handle, the lock, the
epochs (`paused`) and the ring plan whose routes a zone changes.
"""

from __future__ import annotations

import errno as E

from iofdtui.engine.arguments import is_int
from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.lab_part import LabPart
from iofdtui.engine.model import Bus, SpecError
from iofdtui.engine.native import check, lib
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.zone_stats import ZoneSpec, ZoneStats
from iofdtui.engine.zones import Zones


class LabZones(LabPart):
    """Coalesced MMIO/PIO zones on a lab (`KVM_REGISTER_COALESCED_MMIO`)."""

    _zones: Zones
    _plan: RingPlan

    def add_zone(self, bus: Bus | str, addr: int, size: int) -> int:
        """Register a coalesced zone, between two epochs; returns its id.

        Writes wholly inside it go to the coalesced ring instead of exiting
        (unless an ioeventfd ahead of it takes them: see zones.py).  Raises
        RegistrationRejected (one line: the field, or the capability missing).
        """
        try:
            spec = ZoneSpec(bus, addr, size)  # type: ignore[arg-type]
            spec.validate()
        except SpecError as err:
            raise RegistrationRejected(E.EINVAL, str(err), err.field) from None
        with self._live(), self.paused():
            zone_id = self._zones.add(self._lab, spec)
            self._plan.route_all(self._lab, self._regs)
            return zone_id

    def remove_zone(self, zone_id: int) -> ZoneStats:
        """Drain the ring, unregister the zone, keep its final counts."""
        if not is_int(zone_id):
            raise RegistrationRejected(E.EINVAL, f"a zone id is an int, not {zone_id!r}")
        with self._live(), self.paused():
            try:
                return self._zones.remove(self._lab, zone_id)
            finally:
                self._plan.route_all(self._lab, self._regs)

    def zones(self) -> dict[int, ZoneSpec]:
        """The live zones by id."""
        with self._live():
            return {zid: zone.spec for zid, zone in self._zones.live.items()}

    @property
    def ring_drain(self) -> str:
        """Who drains the coalesced ring: "exits" or "thread" (zone_stats.DRAIN_MODES)."""
        with self._live():
            return self._zones.drain

    def set_ring_drain(self, mode: str) -> None:
        """Drain the ring at every userspace exit (as VMMs do) or by a thread
        every 100 µs; readings and pauses drain it in both.  Between epochs."""
        with self._live(), self.paused():
            self._zones.set_drain(self._lab, mode)

    def scribble_ring(self, first: int, last: int) -> None:
        """Test hook: write the ring's `first` and `last`, as a misbehaving peer would."""
        if not (is_int(first) and is_int(last)):
            raise ValueError("first and last are integers")
        with self._live():
            check(
                lib.lab_ring_scribble(self._lab, first & 0xFFFFFFFF, last & 0xFFFFFFFF),
                "scribbling the coalesced ring (add a zone first)",
            )
