"""The round trip's figures as plain data: what a run measured, per path and stage.

No lab and no native engine here (engine/roundtrip.py runs the VM), so a report
can be drawn anywhere: the bench's tables, the app's round-trip screen.
"""

from __future__ import annotations

from dataclasses import dataclass

PATHS = ("ioeventfd", "user", "self-ipi")
"""The round trip's paths, in the order a report shows them."""

ROUTES = ("msi", "pin")
"""How the completion reaches the guest: an MSI (virtio-pci, vhost), or IOAPIC pin 10,
level-triggered and resampled at the guest's EOI (KVM_IRQFD_FLAG_RESAMPLE: VFIO INTx)."""

BUSES = ("pio", "mmio")
"""How the guest's kick is written: an OUT to port 0x520, or 4 bytes to 0xfe001000."""

VECTOR = 0x40
"""The completion's vector (any of 32..255 would do)."""

STAGES = ("awake", "written", "handler")
"""kick → reader awake, awake → completion written, written → handler entered."""


@dataclass(frozen=True, slots=True)
class StageFigures:
    """One stage (or the whole round trip) over the kicks recorded: ns."""

    p50_ns: float
    p99_ns: float
    mean_ns: float


@dataclass(frozen=True, slots=True)
class RoundTripCounts:
    """Every count of one run at its checkpoint (guest-parked: nothing in flight)."""

    kicks: int
    handler_runs: int
    other_irqs: int
    signals: int
    reads: int
    coalesced: int
    completions: int
    completion_errors: int
    merged: int
    user_exits: int
    resamples: int

    def balanced(self, path: str, route: str = "msi") -> bool:
        """kicks = signals read = completions = handler runs (per path), exactly; on the
        pin route's irqfd also = resamples (each EOI lowered the line once; on the user
        path the vCPU thread lowers it itself, so there is no resampler)."""
        ok = self.kicks == self.handler_runs and not self.other_irqs
        if route == "pin" and path == "ioeventfd":
            ok &= self.resamples == self.handler_runs
        if path == "ioeventfd":
            ok &= self.signals == self.kicks == self.completions
        elif path == "user":
            ok &= self.user_exits == self.kicks == self.completions
        return ok and not self.completion_errors and not self.merged


@dataclass(frozen=True, slots=True)
class RoundTripResult:
    """One path (and reader) measured.

    Attributes:
        path: one of PATHS.
        bus: how the guest kicks: "pio" (an OUT) or "mmio" (a 4-byte write); the
            self-IPI's kick is its LAPIC's ICR, "lapic".
        route: "msi", "pin" (IOAPIC, level, resampled), or "self" (the self-IPI).
        reader: the device thread's mode (ioeventfd path), else None.
        seconds: wall time the guest ran.
        counts: the checkpoint's counts.
        exact: the guest parked itself and every count balanced.
        samples: kicks whose records the figures come from (the last ones).
        total: kick → handler entered.
        stages: per stage in STAGES (none on the self-IPI path, or without a
            guest↔host clock).
        negative: records with a stage below zero (a wrong clock mapping), left out.
        kernel: the vCPU's halt/injection statistics over the run, as named.
    """

    path: str
    bus: str
    route: str
    reader: str | None
    seconds: float
    counts: RoundTripCounts
    exact: bool
    samples: int
    total: StageFigures | None
    stages: dict[str, StageFigures]
    negative: int
    kernel: dict[str, int]

    @property
    def rate(self) -> float:
        """Round trips per second of wall time."""
        return self.counts.handler_runs / self.seconds if self.seconds > 0 else 0.0


def _figures(values: list[float]) -> StageFigures | None:
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return StageFigures(
        p50_ns=ordered[(n - 1) // 2],
        p99_ns=ordered[min(n - 1, (99 * n) // 100)],
        mean_ns=sum(ordered) / n,
    )


def stage_figures(
    records: list[tuple[int, int, int, int]], tsc_khz: int, host_stamps: bool
) -> tuple[int, StageFigures | None, dict[str, StageFigures], int]:
    """(samples, total, stages, negative) from raw (kick, awake, written, handler) u32 stamps.

    Differences are signed 32-bit (the stamps are the TSC's low 32 bits); a
    record with a negative stage is left out and counted.
    """

    def span(a: int, b: int) -> int:
        d = (b - a) & 0xFFFF_FFFF
        return d - (1 << 32) if d & 0x8000_0000 else d

    ns = 1e6 / tsc_khz
    totals: list[float] = []
    parts: list[list[float]] = [[], [], []]
    negative = 0
    for kick, awake, written, handler in records:
        total = span(kick, handler)
        steps = (span(kick, awake), span(awake, written), span(written, handler))
        if total < 0 or (host_stamps and min(steps) < 0):
            negative += 1
            continue
        totals.append(total * ns)
        if host_stamps:
            for part, cycles in zip(parts, steps, strict=True):
                part.append(cycles * ns)
    stages = {}
    if host_stamps:
        for name, part in zip(STAGES, parts, strict=True):
            fig = _figures(part)
            if fig is not None:
                stages[name] = fig
    return len(totals), _figures(totals), stages, negative


STAGE_NOTE = (
    "stages on the guest's TSC (host stamps mapped with KVM_VCPU_TSC_OFFSET): kick → "
    "awake (the reader read the eventfd; on the user path, the vCPU thread had the exit) → "
    "written (the completion is about to be written: irqfd, or KVM_SIGNAL_MSI; the "
    "device's work between) → handler (the guest's interrupt handler entered); they sum "
    "to the round trip"
)


def _figures_json(fig: StageFigures | None) -> dict[str, float] | None:
    if fig is None:
        return None
    return {"p50": fig.p50_ns, "p99": fig.p99_ns, "mean": fig.mean_ns}


def result_json(r: RoundTripResult) -> dict[str, object]:
    """One path's JSON row: counts, exact, figures in ns, kernel statistics."""
    return {
        "path": r.path,
        "bus": r.bus,
        "route": r.route,
        "reader": r.reader,
        "seconds": r.seconds,
        "round_trips_per_s": r.rate,
        "exact": r.exact,
        "counts": {name: getattr(r.counts, name) for name in r.counts.__slots__},
        "samples": r.samples,
        "negative": r.negative,
        "round_trip_ns": _figures_json(r.total),
        "stages_ns": {name: _figures_json(r.stages.get(name)) for name in STAGES},
        "kernel": r.kernel,
    }


@dataclass(frozen=True, slots=True)
class RoundTripReport:
    """A whole `--roundtrip` run."""

    machine: dict[str, object]
    work_us: float
    results: tuple[RoundTripResult, ...]

    def as_json(self) -> dict[str, object]:
        """JSON document (documented in the README, "The round trip")."""
        return {
            "machine": self.machine,
            "vector": VECTOR,
            "device_work_us": self.work_us,
            "stage_note": STAGE_NOTE,
            "results": [result_json(r) for r in self.results],
        }
