"""`iofdtui bench`'s coalesced rows as tables: the ring under each drain mode,
and the three ways a guest write reaches the host side by side."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.experiments.bench import PhaseResult
from iofdtui.reports import format as fmt
from iofdtui.reports.blocks import titled_table

NAMES = ("reader", "bus", "write", "drain")

RING_COLUMNS = (
    "reader",
    "write",
    "drain",
    "rings/s",
    "p50",
    "p99",
    "mean",
    "agree",
    "full/1k",
    "/drain",
    "exact",
)
DELAY_COLUMNS = (
    "reader",
    "write",
    "drain",
    "paced µs",
    "delay p50 µs",
    "delay p99 µs",
    "timed",
    "not timed",
    "exact",
)
PATHS_COLUMNS = (
    "reader",
    "bus",
    "len",
    "exit/s",
    "eventfd/s",
    "zone/s",
    "exit ns",
    "eventfd ns",
    "zone ns",
)

NOTE = (
    "coalesced: a zone over the doorbell (KVM_REGISTER_COALESCED_MMIO, pio = 1 for ports); "
    "each write is a ring entry, except one that finds the ring full, which exits (ring "
    "full). drain: the vCPU thread at every userspace exit (as VMMs do), or a thread every "
    "100 µs; readings and pauses drain it too. agree: as above. full/1k: ring-full exits "
    "per 1,000 writes. /drain: entries a drain found, on average (the ring holds 169). "
    "exact: rings = signals + exits + ring entries at the closing pause. Three paths: "
    "rings/s and mean ns of the userspace exit, the ioeventfd and the zone (its mean "
    "includes the ring-full exits). Delivery delay (paced: one ring per visit): from the "
    "guest's TSC stamp just before a write to the drain that saw its entry, on the TSC "
    "clock the wake-up figure uses; timed: entries a drain found alone (only the newest "
    "ring's stamp is published), the others are not timed.\n"
)


def _ring_row(r: PhaseResult) -> tuple[str, ...]:
    lat, ring = r.latency, r.ring
    return (
        r.reader,
        f"{r.phase.bus.value}/{fmt.length(r.phase.width)}",
        r.phase.drain or "exits",
        fmt.whole(r.rings_per_s),
        fmt.whole(lat.p50_ns),
        fmt.whole(lat.p99_ns),
        fmt.whole(lat.mean_ns),
        fmt.fixed(r.agreement),
        fmt.fixed(r.ring_full_per_1k, 1),
        fmt.whole(ring.mean_found if ring else None),
        fmt.tick(r.conserved),
    )


def _delay_row(r: PhaseResult) -> tuple[str, ...]:
    ring = r.ring
    p50 = ring.delay_p50_ns if ring else None
    p99 = ring.delay_p99_ns if ring else None
    return (
        r.reader,
        f"{r.phase.bus.value}/{fmt.length(r.phase.width)}",
        r.phase.drain or "exits",
        fmt.whole(r.phase.pace_us),
        fmt.fixed(None if p50 is None else p50 / 1000, 1),
        fmt.fixed(None if p99 is None else p99 / 1000, 1),
        fmt.whole(ring.delay_samples if ring else None),
        fmt.whole(ring.delay_untimed if ring else None),
        fmt.tick(r.conserved),
    )


def three_paths(results: tuple[PhaseResult, ...]) -> list[tuple[PhaseResult, ...]]:
    """(exit, ioeventfd, coalesced drained at exits) per reader, bus and width, same run."""
    by_key = {
        (r.reader, r.phase.bus, r.phase.width, r.phase.path, r.phase.drain): r for r in results
    }
    out = []
    for r in results:
        if r.phase.path != "coalesced" or r.phase.drain != "exits" or r.phase.pace_us:
            continue
        key = (r.reader, r.phase.bus, r.phase.width)
        user = by_key.get((*key, "userspace", None))
        eventfd = by_key.get((*key, "ioeventfd", None))
        if user is not None and eventfd is not None:
            out.append((user, eventfd, r))
    return out


def render_coalesced(results: tuple[PhaseResult, ...]) -> Group | None:
    """The coalesced tables, or None when the run measured no coalesced phase."""
    rows = [r for r in results if r.phase.path == "coalesced" and r.phase.pace_us is None]
    paced = [r for r in results if r.phase.path == "coalesced" and r.phase.pace_us is not None]
    if not rows and not paced:
        return None
    ring = titled_table(
        "Coalesced writes: the ring (cost in ns)", RING_COLUMNS, NAMES, no_wrap=True
    )
    for r in rows:
        ring.add_row(*_ring_row(r))
    delay = titled_table(
        "Delivery delay: how long an entry waited in the ring (paced)",
        DELAY_COLUMNS,
        NAMES,
        no_wrap=True,
    )
    for r in paced:
        delay.add_row(*_delay_row(r))
    paths = titled_table(
        "Three paths, same run: exit, ioeventfd, zone (drained at exits)",
        PATHS_COLUMNS,
        NAMES,
        no_wrap=True,
    )
    for user, eventfd, coalesced in three_paths(tuple(results)):
        paths.add_row(
            user.reader,
            user.phase.bus.value,
            fmt.length(user.phase.width),
            *(fmt.whole(r.rings_per_s) for r in (user, eventfd, coalesced)),
            *(fmt.whole(r.latency.mean_ns) for r in (user, eventfd, coalesced)),
        )
    return Group(ring, delay, paths, Text(NOTE, style="dim"))
