"""A scale sweep that replays fixed points: the scale screen tested without /dev/kvm.

The figures are one real run of `iofdtui bench --scale --seconds 0.25` on
this project's machines (PIO, kvm_pvm), frozen so snapshots never change.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from iofdtui.engine.experiments.scale import DECOY_SIZES, TRIGGER_COUNTS, ScalePoint, ScaleReport
from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import Latency

# (series, n, p50, p99, mean, samples, rings)
_ROWS = (
    ("decoys", 1, 2_206, 15_099, 3_931, 476, 244_188),
    ("decoys", 10, 1_984, 12_708, 3_142, 619, 317_547),
    ("decoys", 100, 2_034, 12_708, 2_968, 601, 308_313),
    ("decoys", 1_000, 2_083, 13_497, 3_390, 549, 281_637),
    ("decoys", 10_000, 1_590, 12_314, 2_633, 512, 262_656),
    ("hit-first", 1, 1_713, 16_677, 3_085, 590, 302_670),
    ("hit-last", 1, 4_326, 10_120, 4_219, 797, 408_861),
    ("miss", 1, 6_668, 7_063, 6_671, 100, 51_300),
    ("hit-first", 8, 1_307, 10_317, 2_631, 804, 412_452),
    ("hit-last", 8, 1_467, 9_627, 2_655, 686, 351_918),
    ("miss", 8, 6_767, 9_232, 6_838, 99, 50_787),
    ("hit-first", 64, 1_356, 9_528, 2_881, 778, 399_114),
    ("hit-last", 64, 2_453, 11_747, 3_325, 275, 141_075),
    ("miss", 64, 7_950, 50_697, 8_561, 85, 43_605),
    ("hit-first", 512, 1_615, 9_824, 2_235, 590, 302_670),
    ("hit-last", 512, 12_511, 18_230, 13_799, 51, 26_163),
    ("miss", 512, 16_850, 17_441, 16_881, 40, 20_520),
)

POINTS: tuple[ScalePoint, ...] = tuple(
    ScalePoint(series, n, Latency(samples, float(p50), float(p99), float(mean)), rings, True)
    for series, n, p50, p99, mean, samples, rings in _ROWS
)
NOTES = (
    "stopped before 100,000 decoys: the open-file limit is 20000 and could not be raised "
    "(one eventfd per decoy); raise the hard limit (ulimit -Hn) first",
)


@dataclass
class FakeSweep:
    """Replays `POINTS` through `on_point`, as `run_scale` would, in no time.

    With `gate` set, it waits for `gate` before each point after the first,
    so a test can close the screen mid-sweep; `runs` counts the runs and
    `stopped` records whether `on_point` asked it to stop. With `fail_after`
    set, it raises `error` once that many points are measured (as an
    open-file limit does mid-sweep).
    """

    seconds: float = 0.25
    bus: Bus = Bus.PIO
    sizes: tuple[int, ...] = DECOY_SIZES
    trigger_counts: tuple[int, ...] = TRIGGER_COUNTS
    gate: threading.Event | None = None
    runs: int = 0
    stopped: bool = False
    finished: threading.Event = field(default_factory=threading.Event)
    fail_after: int | None = None
    error: OSError = field(
        default_factory=lambda: OSError(errno.EMFILE, "EMFILE: out of file descriptors")
    )

    def run(
        self, on_point: Callable[[ScalePoint], bool], progress: Callable[[str], None]
    ) -> ScaleReport:
        """Post every fixed point; stop when `on_point` returns False."""
        self.runs += 1
        self.finished.clear()
        try:
            done: list[ScalePoint] = []
            for i, point in enumerate(POINTS):
                if i == self.fail_after:
                    raise self.error
                if i and self.gate is not None:
                    self.gate.wait(timeout=10.0)
                progress(f"{point.n:,} {point.series}")
                done.append(point)
                if on_point(point) is False:
                    self.stopped = True
                    return ScaleReport(self.bus, tuple(done), ("stopped by the caller",))
            return ScaleReport(self.bus, tuple(done), NOTES)
        finally:
            self.finished.set()
