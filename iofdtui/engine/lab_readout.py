"""`Lab`'s read-only calls: the snapshot, one path's figures and histograms.

A base class of `Lab` (lab.py), which owns what these read: the native
handle, the lock (`_live`), the registrations, the ring plan and the readings.
"""

from __future__ import annotations

from iofdtui.engine import native_reads
from iofdtui.engine.arguments import check_id, check_mode, is_int
from iofdtui.engine.figures import cycles_to_ns
from iofdtui.engine.lab_part import LabPart
from iofdtui.engine.model import KINDS, Bus
from iofdtui.engine.native import lib
from iofdtui.engine.native_reads import CURRENT, mode_of
from iofdtui.engine.readings import Readings, Settings
from iofdtui.engine.registrations import Registrations
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.snapshot import READERS, Snapshot


class LabReadout(LabPart):
    """Reads of a lab that change nothing the guest does."""

    vcpus: int
    tsc_khz: int
    _registrations: Registrations
    _plan: RingPlan
    _readings: Readings

    def _settings(self) -> Settings:  # pragma: no cover - Lab's
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        """Read every counter without stopping the guest."""
        with self._live():
            return self._readings.snapshot(
                self._lab, self._registrations, self._plan, self._settings()
            )

    def timer_overhead_cycles(self, mode: int = CURRENT) -> float | None:
        """Median cycles of the empty timed window (the timer's own cost) in `mode`."""
        check_mode(mode)
        with self._live():
            timer = native_reads.read_timer(self._lab, mode)
        return None if timer is None else timer.p50

    def loop_ns_per_ring(self) -> float | None:
        """Guest time between visits per ring since reset, in the current mode.

        The loop's own overhead: setting up a slot, counting, the histogram,
        calibration.  Wall time per ring minus this is what the samples cover.
        """
        with self._live():
            loop_cycles = native_reads.read_loop_cycles(self._lab)
            slots = native_reads.read_slots(self._lab, self.vcpus * lib.MAX_SLOTS)
            rings = self._plan.rings_since_reset(slots)
        if not rings or not self.tsc_khz:
            return None
        return cycles_to_ns(loop_cycles / rings, self.tsc_khz)

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Net histogram (ns, count) of the rings a live registration served,
        under the reader in force (its kicks when paced)."""
        check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                return []
            return self._readings.cost_histogram(
                self._lab, lib.LAB_PATH_REG, reg.native_id, CURRENT
            )

    def reader_histograms(self, reg_id: int) -> dict[str, list[tuple[float, int]]]:
        """Per reader measured since reset: a live registration's net stream histogram."""
        check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                return {}
            out = {}
            for reader in READERS:
                mode = mode_of(reader, False)
                hist = self._readings.cost_histogram(
                    self._lab, lib.LAB_PATH_REG, reg.native_id, mode
                )
                if hist:
                    out[reader] = hist
            return out

    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]:
        """Net histogram of the userspace-exit path for one bus and width, reader in force."""
        if not is_int(width):
            raise ValueError(f"a width is an int, not {width!r}")
        kind = KINDS.get((bus, width))
        with self._live():
            if kind is None:
                return []
            return self._readings.cost_histogram(self._lab, lib.LAB_PATH_USER, kind, CURRENT)

    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Histogram of a live registration's wake-up latency (ns, count)."""
        check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                return []
            return self._readings.histogram(self._lab, lib.LAB_PATH_WAKE, reg.native_id, CURRENT)
