"""The scale sweep the app runs, as a Protocol: the real one, or a test's fake.

The scale screen only needs `run(on_point, progress)` and how many points to
expect, so tests feed it fixed points in milliseconds while the real sweep
(`run_scale` on its own labs) takes seconds on /dev/kvm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from iofdtui.engine.experiments.scale import (
    DECOY_SIZES,
    DOORBELL,
    TRIGGER_COUNTS,
    ScalePoint,
    ScaleReport,
    run_scale,
)
from iofdtui.engine.model import Bus

SWEEP_SECONDS = 0.25
"""Seconds measured per point in the app: 18 points take about 7 s here."""


class SweepPort(Protocol):
    """A scale sweep: blocking, so the screen runs it in a thread worker."""

    seconds: float
    bus: Bus
    sizes: tuple[int, ...]
    trigger_counts: tuple[int, ...]

    def run(
        self, on_point: Callable[[ScalePoint], bool], progress: Callable[[str], None]
    ) -> ScaleReport:
        """Measure every point; stop early when `on_point` returns False."""
        ...


@dataclass(frozen=True, slots=True)
class KvmSweep:
    """The real sweep: `run_scale` on its own labs, one short phase per point.

    Attributes:
        seconds: measured seconds per point (after a 0.1 s warm-up).
        bus: the bus of the doorbell and of its decoys.
        sizes: decoy counts; `run_scale` stops (with a note) where RLIMIT_NOFILE does.
        trigger_counts: trigger values registered at the doorbell.
    """

    seconds: float = SWEEP_SECONDS
    bus: Bus = Bus.PIO
    sizes: tuple[int, ...] = DECOY_SIZES
    trigger_counts: tuple[int, ...] = TRIGGER_COUNTS

    def run(
        self, on_point: Callable[[ScalePoint], bool], progress: Callable[[str], None]
    ) -> ScaleReport:
        """Run the sweep (blocking: seconds to tens of seconds)."""
        return run_scale(
            self.seconds,
            bus=self.bus,
            sizes=self.sizes,
            trigger_counts=self.trigger_counts,
            progress=progress,
            on_point=on_point,
        )


def expected_points(sweep: SweepPort) -> int:
    """How many points a complete sweep measures (a limit may stop it sooner)."""
    return len(sweep.sizes) + 3 * len(sweep.trigger_counts)


def doorbell(sweep: SweepPort) -> int:
    """The address of the doorbell the sweep rings."""
    return DOORBELL[sweep.bus]
