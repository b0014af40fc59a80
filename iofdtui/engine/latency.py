"""A latency measured in the guest: samples, p50/p99 and the mean, in ns.

Apart from snapshot.py so the completion's stages (completion_stats.py),
which the snapshot itself holds, are the same type as the ring cost.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Latency:
    """Guest-measured ring cost, net of the timer overhead measured in the same run.

    One sample is one *visit*: the guest times all of a visit's back-to-back
    rings (16 × weight + 1) with one rdtsc pair and records their mean, so
    every ring the guest makes is inside a timed window and the mean of the
    samples is the stream's mean cost.  In paced mode a visit is one ring (the
    isolated kick), so a sample is that single write.  Percentiles come from a
    log-linear histogram of the samples (64 sub-buckets per power of two,
    about 1.6 % wide); the mean from the exact sum.  None when there are no
    samples yet.

    Attributes:
        samples: visits timed.
        p50_ns: median over visits of the per-ring cost.
        p99_ns: 99th percentile over visits.
        mean_ns: mean per-ring cost over visits.
        rings_per_sample: rings in one sample (visit), on average.
    """

    samples: int
    p50_ns: float | None
    p99_ns: float | None
    mean_ns: float | None
    rings_per_sample: float | None = None

    @classmethod
    def empty(cls) -> Latency:
        """No samples."""
        return cls(0, None, None, None)


NO_SAMPLES = Latency.empty()
