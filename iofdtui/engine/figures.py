"""Figures computed from counts already read (pure functions, no engine calls):
ring cost net of the timer, a cost histogram net of the timer's share, each
reader's costs, wake-up latency, the ratio to the baseline, the reader's
reads, the attribution check, and the health counters.

The rows built from them are in rows.py, the doorbells in doorbells.py and
the lab-wide why in readings.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from iofdtui.engine.model import Bus, format_addr
from iofdtui.engine.native import lib
from iofdtui.engine.native_reads import Path, Timer, WakeCounts, mode_of
from iofdtui.engine.snapshot import (
    NO_SAMPLES,
    READERS,
    Health,
    Latency,
    ReaderCost,
    WakeLatency,
)

Quantiles = tuple[float, float]  # p50, p99 in cycles; -1 without samples


def cycles_to_ns(cycles: float, tsc_khz: int) -> float:
    """Guest TSC cycles in ns (NaN when the TSC rate is unknown)."""
    return cycles * 1e6 / tsc_khz if tsc_khz else float("nan")


def net_latency(
    path: Path | object, q: Quantiles | None, timer: Timer | None, tsc_khz: int
) -> Latency:
    """Per-ring cost from a path's samples, net of the timer overhead.

    A sample is a visit's cycles per ring, so the timer's own cost (once
    per visit) is its window / rings-per-visit in it (every visit of a
    path is the same length: a slot's weight only changes between
    epochs).  A timed window holds the same instructions as the empty
    one plus the writes, so it varies like it (under kvm_pvm the empty
    window has a tight mode and a long tail): each figure is net of the
    same figure of the empty window, p50 of p50, p99 of p99, mean of
    mean.  That is exact for a shift, and keeps a single paced write
    (where the timer is most of the window) from flipping with which
    side of the mode the empty window's median falls on.

    `path` is a `Path` or a struct lab_path_stats; `q` its p50 and p99.
    """
    samples = path.samples  # type: ignore[union-attr]
    if samples == 0:
        return NO_SAMPLES
    rings = path.rings  # type: ignore[union-attr]
    per_sample = rings / samples if rings else 1.0
    if timer is None or not tsc_khz or q is None:
        return Latency(samples, None, None, None, per_sample)
    mean = path.cycles / samples  # type: ignore[union-attr]
    return Latency(
        samples=samples,
        p50_ns=cycles_to_ns(q[0] - timer.p50 / per_sample, tsc_khz),
        p99_ns=cycles_to_ns(q[1] - timer.p99 / per_sample, tsc_khz),
        mean_ns=cycles_to_ns(mean - timer.mean / per_sample, tsc_khz),
        rings_per_sample=per_sample,
    )


def shifted_histogram(
    hist: list[tuple[float, int]], path: object | None, timer: Timer | None, tsc_khz: int
) -> list[tuple[float, int]]:
    """A ring-cost histogram (ns, count) shifted by the timer's share of each
    sample: the empty window's fast mode (its p5) / rings per sample, so a
    sample is never shown below zero (the table's figures subtract matched
    quantiles, see `net_latency`)."""
    if not hist or timer is None or path is None:
        return hist
    samples, rings = path.samples, path.rings  # type: ignore[attr-defined]
    per_sample = rings / samples if samples and rings else 1.0
    share = cycles_to_ns(timer.p05 / per_sample, tsc_khz)
    # A bucket's lower bound below the share is timer noise, not a negative cost.
    return [(max(lo - share, 1.0), n) for lo, n in hist]


def reader_costs(
    paths: Sequence[Path],
    q_by_mode: Sequence[Quantiles],
    timers: Mapping[int, Timer | None],
    tsc_khz: int,
) -> tuple[ReaderCost, ...]:
    """Every reader mode a registration has samples under, since reset."""
    out = []
    for reader in READERS:
        stream, kick = (
            net_latency(paths[mode], q_by_mode[mode], timers[mode], tsc_khz)
            for mode in (mode_of(reader, False), mode_of(reader, True))
        )
        if stream.samples or kick.samples:
            out.append(ReaderCost(reader, stream, kick))
    return tuple(out)


def wake_latency(
    st: WakeCounts, path: object | None, q: Quantiles | None, tsc_khz: int
) -> WakeLatency | None:
    """Wake-up figures from `st`, read with the signals (so they add up); the
    timings from the wake-up path (`path`, `q`) when they may be shown."""
    counts = (st.coalesced, st.raced, st.foreign, st.unpublished, st.negative, st.elsewhere)
    if st.samples == 0 and not any(counts):
        return None
    p50 = p99 = mean = None
    if path is not None and q is not None:
        p50, p99 = cycles_to_ns(q[0], tsc_khz), cycles_to_ns(q[1], tsc_khz)
        samples = path.samples  # type: ignore[attr-defined]
        mean = cycles_to_ns(path.cycles / samples, tsc_khz) if samples else None  # type: ignore[attr-defined]
    return WakeLatency(st.samples, p50, p99, mean, *counts)


def ratio(latency: Latency, baseline: Latency) -> float | None:
    """Baseline p50 / ring cost p50, when both are known and positive."""
    if latency.p50_ns and baseline.p50_ns and latency.p50_ns > 0 and baseline.p50_ns > 0:
        return baseline.p50_ns / latency.p50_ns
    return None


def reads(paths: Sequence[Path]) -> int:
    """The reader's reads of a registration, every reader (each counted once)."""
    return sum(p.reads for p in paths[: lib.LAB_READERS])


def attribution_ok(
    slots: Iterable[int], slot_stats: object, paths: Iterable[tuple[int, int]]
) -> bool:
    """Each path got exactly the rings the kernel says it served (every mode):
    `paths` gives each registration's (rings, signals)."""
    if any(rings != signals for rings, signals in paths):
        return False
    for index in slots:
        st = slot_stats[index]  # type: ignore[index]
        # A zoned write that found the coalesced ring full exits too (zones.py checks those).
        if st.exits - st.ring_full != st.rings_user:
            return False
    return True


def health(h: object) -> Health:
    """struct lab_health as the things that should stay zero."""
    last_stray = None
    if h.stray_exits:  # type: ignore[attr-defined]
        bus = Bus.PIO if h.stray_pio else Bus.MMIO  # type: ignore[attr-defined]
        last_stray = (
            f"{bus.value} {format_addr(bus, h.stray_port)}/{h.stray_width} "  # type: ignore[attr-defined]
            f"←{h.stray_value:#x}"  # type: ignore[attr-defined]
        )
    return Health(
        stray_exits=h.stray_exits,  # type: ignore[attr-defined]
        last_stray=last_stray,
        garbage_pages=h.garbage_pages,  # type: ignore[attr-defined]
        forced_pauses=h.forced_parks,  # type: ignore[attr-defined]
        unsolicited_parks=h.unsolicited_parks,  # type: ignore[attr-defined]
    )
