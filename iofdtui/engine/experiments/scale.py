"""`iofdtui bench --scale`: what does a registration cost the guest?

The kernel keeps each bus as an array sorted by (address, length):
`kvm_io_bus_write()` binary-searches the first entry at the written
address, then walks the entries there until one accepts the write
(`ioeventfd_write()` refuses a datamatch that does not match).  So:

- decoys at *other* addresses should cost a ring about log2(N) steps;
- k trigger values at the *same* address cost a walk: the value registered
  first is found at once, the one registered last after k - 1 refusals, and
  a value nobody registered walks all k and then exits to userspace.

Each figure is the guest-measured ring cost (net of the timer overhead) of
one doorbell, measured in its own phase.
"""

from __future__ import annotations

import resource
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import Latency

if TYPE_CHECKING:
    from iofdtui.engine.lab import Lab

DOORBELL = {Bus.PIO: 0x03F8, Bus.MMIO: 0xFE00_0000}
DECOY_SIZES = (1, 10, 100, 1_000, 10_000, 100_000)
TRIGGER_COUNTS = (1, 8, 64, 512)
WARMUP_S = 0.1
FD_HEADROOM = 64
"""File descriptors kept free beside the registrations' eventfds (the VM's own, stdio)."""


@dataclass(frozen=True, slots=True)
class ScalePoint:
    """One measured configuration."""

    series: str  # "decoys" | "hit-first" | "hit-last" | "miss"
    n: int  # decoys in place, or trigger values at the doorbell
    latency: Latency
    rings: int
    exact: bool

    def as_json(self) -> dict[str, object]:
        """JSON row."""
        return {
            "series": self.series,
            "n": self.n,
            "latency_ns": {
                "p50": self.latency.p50_ns,
                "p99": self.latency.p99_ns,
                "mean": self.latency.mean_ns,
            },
            "samples": self.latency.samples,
            "rings": self.rings,
            "exact": self.exact,
        }


@dataclass(frozen=True, slots=True)
class ScaleReport:
    """A whole scale run."""

    bus: Bus
    points: tuple[ScalePoint, ...]
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """JSON document."""
        return {
            "bus": self.bus.value,
            "points": [p.as_json() for p in self.points],
            "notes": list(self.notes),
        }


def _decoy(bus: Bus, i: int) -> RegistrationSpec:
    """The i-th decoy: distinct, never rung, same bus, spread over addresses."""
    if bus is Bus.PIO:
        # 4,096 ports x datamatch values: PIO has only 64 Ki ports.
        return RegistrationSpec(Bus.PIO, 0x1000 + (i % 0x1000), 4, i // 0x1000)
    return RegistrationSpec(Bus.MMIO, 0xC000_0000 + 8 * i, 4)


def _measure(lab: Lab, series: str, n: int, seconds: float) -> ScalePoint:
    snap, exact = lab.run_epoch(seconds, WARMUP_S)
    (slot,) = snap.slots
    return ScalePoint(series=series, n=n, latency=slot.latency, rings=slot.rings, exact=exact)


def _raise_fd_limit(needed: int, notes: list[str]) -> int:
    """Raise RLIMIT_NOFILE towards `needed` (root may lift the hard limit too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    for target in (
        (needed, max(hard, needed)) if hard != resource.RLIM_INFINITY else (needed, hard),
        (min(needed, hard), hard),
    ):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, target)
        except (ValueError, OSError):
            continue
        if target[0] > soft:
            notes.append(f"raised RLIMIT_NOFILE from {soft} to {target[0]} (one eventfd per decoy)")
        return target[0]
    return soft


def run_scale(
    seconds: float,
    bus: Bus = Bus.PIO,
    sizes: Sequence[int] = DECOY_SIZES,
    trigger_counts: Sequence[int] = TRIGGER_COUNTS,
    progress: Callable[[str], None] | None = None,
    on_point: Callable[[ScalePoint], bool | None] | None = None,
) -> ScaleReport:
    """Measure ring cost against decoy count and trigger-value count.

    `on_point` sees each point as it is measured (an app plots them live);
    returning False stops the run there, with the points so far and a note.
    A failure after the first point (an open-file limit, a VM that will not
    start) ends the run with the points measured and a note saying where and
    why; only a run that measured nothing raises.
    """
    # Imported here: the app's scale screen and replay import this module's
    # data types on machines without the native engine.
    from iofdtui.engine.lab import Lab

    notes: list[str] = []
    points: list[ScalePoint] = []
    doorbell = DOORBELL[bus]
    needed = max(max(sizes, default=0), max(trigger_counts, default=0))
    limit = _raise_fd_limit(needed + 256, notes)
    stage = "starting the VM"

    def measured(point: ScalePoint) -> bool:
        """Keep `point`; False when the caller wants the run to stop here."""
        points.append(point)
        return on_point is None or on_point(point) is not False

    try:
        with Lab() as lab:
            lab.set_plan([SlotSpec(bus, doorbell, 4, 1, 32)])
            lab.add_registration(RegistrationSpec(bus, doorbell, 4))
            lab.start()
            lab.pause()
            for n in sorted(sizes):
                stage = f"{n:,} decoys"
                if progress:
                    progress(f"{n:,} decoys")
                want = [_decoy(bus, i) for i in range(lab.decoy_count, n)]
                if lab.decoy_count + len(want) + FD_HEADROOM > limit:
                    notes.append(_fd_note(f"{n:,} decoys", limit))
                    break
                try:
                    lab.add_decoys(want)
                except OSError as err:
                    notes.append(f"stopped at {lab.decoy_count:,} decoys: {err}")
                    break
                if not measured(_measure(lab, "decoys", n, seconds)):
                    return _stopped(bus, points, notes)

        for k in trigger_counts:
            stage = f"{k} trigger values"
            if k + FD_HEADROOM > limit:
                notes.append(_fd_note(f"{k} trigger values", limit))
                break
            with Lab() as lab:
                lab.set_plan([SlotSpec(bus, doorbell, 4, 1, 32)])
                # Values 1..k at one doorbell, registered in that order.
                for value in range(1, k + 1):
                    lab.add_registration(RegistrationSpec(bus, doorbell, 4, value))
                lab.start()
                lab.pause()
                for series, value in (("hit-first", 1), ("hit-last", k), ("miss", k + 1)):
                    if progress:
                        progress(f"{k} trigger values, {series}")
                    lab.set_plan([SlotSpec(bus, doorbell, 4, value, 32)])
                    if not measured(_measure(lab, series, k, seconds)):
                        return _stopped(bus, points, notes)
    except OSError as err:
        if not points:
            raise  # nothing measured: the caller reports the one line
        notes.append(f"stopped at {stage} after {len(points)} points: {err}")
    return ScaleReport(bus, tuple(points), tuple(notes))


def _fd_note(where: str, limit: int) -> str:
    return (
        f"stopped before {where}: the open-file limit is {limit} and could not be raised "
        "(one eventfd per registration); raise the hard limit (ulimit -Hn) first"
    )


def _stopped(bus: Bus, points: list[ScalePoint], notes: list[str]) -> ScaleReport:
    """The report of a run its caller stopped early (`on_point` returned False)."""
    notes.append(f"stopped by the caller after {len(points)} points")
    return ScaleReport(bus, tuple(points), tuple(notes))
