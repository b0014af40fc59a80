"""Figures computed from counts already read (pure functions, no engine calls):
ring cost net of the timer, histograms, each registration's row, doorbells,
the attribution check, and the lab-wide why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from iofdtui.engine.model import MAX_SLOTS, Bus, format_addr
from iofdtui.engine.native import lib
from iofdtui.engine.native_reads import Path, Timer, WakeCounts
from iofdtui.engine.ring_plan import Doorbell, Retired
from iofdtui.engine.snapshot import (
    READERS,
    DoorbellStats,
    Health,
    Latency,
    ReaderCost,
    VcpuCounts,
    WakeLatency,
)

NO_SAMPLES = Latency.empty()
STATES = {
    lib.LAB_IDLE: "idle",
    lib.LAB_RUNNING: "running",
    lib.LAB_PARKED: "paused",
    lib.LAB_FAULTED: "faulted",
}
# Reader name -> the engine's enum lab_consumer_mode.
NATIVE_READER = {
    "epoll": lib.LAB_CONSUMER_EPOLL,
    "poll": lib.LAB_CONSUMER_POLL,
    "none": lib.LAB_CONSUMER_NONE,
}
Quantiles = tuple[float, float]  # p50, p99 in cycles; -1 without samples


def mode_of(reader: str, paced: bool) -> int:
    """The engine's figure set for a reader and a pacing (enum lab_mode)."""
    return int(paced) * lib.LAB_READERS + NATIVE_READER[reader]


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


def doorbells(
    retired: Mapping[Doorbell, Retired],
    slots: Mapping[int, object],
    slot_stats: object,
    reg_signals: Iterable[tuple[Doorbell, int]],
    vcpus: int,
    quiet: dict[tuple[Doorbell, int], DoorbellStats] | None = None,
) -> tuple[DoorbellStats, ...]:
    """Per doorbell: retired counts plus the live slots' and registrations'.

    `slots` maps a slot index to its spec; `reg_signals` gives each live
    registration's doorbell and signals.  A doorbell only registrations sit
    on (no slot, nothing retired) is `quiet`: its row is taken from `quiet`
    when the same signals were seen before (the map is refilled with this
    reading's).
    """
    totals: dict[Doorbell, Retired] = {key: r.copy() for key, r in retired.items()}
    for index, spec in slots.items():
        st = slot_stats[index]  # type: ignore[index]
        door = totals.get(spec.doorbell)  # type: ignore[attr-defined]
        if door is None:
            door = totals[spec.doorbell] = Retired()  # type: ignore[attr-defined]
        door.rings += st.rings
        door.issued += st.issued
        door.exits += st.exits
        door.add_vcpu(index // MAX_SLOTS, st.rings, st.exits, st.issued)
        key = (spec.width, spec.value)  # type: ignore[attr-defined]
        door.exits_by_value[key] = door.exits_by_value.get(key, 0) + st.exits
    signals_at: dict[Doorbell, int] = {}
    for doorbell, signals in reg_signals:
        door = totals.get(doorbell)
        if door is not None:
            door.signals += signals
        else:
            signals_at[doorbell] = signals_at.get(doorbell, 0) + signals
    seen = {} if quiet is None else quiet
    rows: dict[Doorbell, DoorbellStats] = {}
    for (bus, addr), t in totals.items():
        rows[(bus, addr)] = DoorbellStats(
            bus=bus,
            addr=addr,
            rings=t.rings,
            signals=t.signals,
            exits=t.exits,
            issued=t.issued,
            exits_by_value=tuple((w, v, n) for (w, v), n in sorted(t.exits_by_value.items()) if n),
            per_vcpu=tuple(VcpuCounts(k, *t.by_vcpu.get(k, (0, 0, 0))) for k in range(vcpus)),
        )
    fresh: dict[tuple[Doorbell, int], DoorbellStats] = {}
    idle = tuple(VcpuCounts(k, 0, 0, 0) for k in range(vcpus))
    for doorbell, signals in signals_at.items():
        row = seen.get((doorbell, signals))
        if row is None:
            row = DoorbellStats(doorbell[0], doorbell[1], 0, signals, 0, (), 0, idle)
        rows[doorbell] = fresh[(doorbell, signals)] = row
    if quiet is not None:
        quiet.clear()
        quiet.update(fresh)
    # Bus is a StrEnum: (bus, addr) keys sort by bus name, then address.
    return tuple(rows[key] for key in sorted(rows))


def attribution_ok(
    slots: Iterable[int], slot_stats: object, paths: Iterable[tuple[int, int]]
) -> bool:
    """Each path got exactly the rings the kernel says it served (every mode):
    `paths` gives each registration's (rings, signals)."""
    if any(rings != signals for rings, signals in paths):
        return False
    for index in slots:
        st = slot_stats[index]  # type: ignore[index]
        if st.exits != st.rings_user:
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
