"""The selected registration's completion: its counts and its round trip's stages.

Shown in the detail pane only for a registration that carries a completion
(the reader answers each signal it reads with an irqfd write; see
engine/completions.py).  The stage bar is the round-trip screen's
(`StageBars`), fed this registration's figures.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.latency import Latency
from iofdtui.engine.roundtrip_figures import (
    STAGES,
    RoundTripCounts,
    RoundTripResult,
    StageFigures,
)
from iofdtui.engine.snapshot import RegistrationStats, Snapshot
from iofdtui.reports import format as fmt
from iofdtui.ui.widgets.detail_line import DetailLine
from iofdtui.ui.widgets.stage_bars import StageBars

ROUTE_NAMES = {"msi": "MSI", "pin": "IOAPIC pin (level, resampled)"}


def _figures(stage: Latency) -> StageFigures | None:
    if stage.p50_ns is None or stage.p99_ns is None or stage.mean_ns is None:
        return None
    return StageFigures(stage.p50_ns, stage.p99_ns, stage.mean_ns)


def live_ok(c: CompletionStats) -> bool:
    """While the guest runs: every kick answered, and at most one interrupt in
    flight (the guest waits for each before its next kick)."""
    return c.answered and 0 <= c.in_flight <= 1


def as_round_trip(c: CompletionStats, bus: str, reader: str) -> RoundTripResult:
    """A completion's figures in the round-trip screen's shape, for `StageBars`."""
    stages = {
        name: fig
        for name, fig in zip(
            STAGES, (_figures(c.awake), _figures(c.written), _figures(c.handler)), strict=True
        )
        if fig is not None
    }
    counts = RoundTripCounts(
        kicks=c.kicks,
        handler_runs=c.handler_runs,
        other_irqs=0,
        signals=c.kicks,
        reads=c.irqfd_writes + c.write_errors,
        coalesced=c.merged,
        completions=c.irqfd_writes,
        completion_errors=c.write_errors,
        merged=0,
        user_exits=0,
        resamples=c.resamples or 0,
    )
    return RoundTripResult(
        path="ioeventfd",
        bus=bus,
        route=c.route,
        reader=reader,
        seconds=0.0,
        counts=counts,
        exact=live_ok(c),
        samples=c.round_trip.samples,
        total=_figures(c.round_trip),
        stages=stages if len(stages) == len(STAGES) else {},
        negative=c.negative,
        kernel={},
    )


def counts_text(c: CompletionStats) -> str:
    """`completion: MSI → vCPU 0, vector 0x40 (GSI 24): 965 kicks = 965 irqfd writes
    = 964 handler runs (+1 in flight) ✓`, and what else there is to say."""
    # Two vCPUs: who kicks it, when that is not the vCPU its interrupt goes to.
    kicked = f" vCPU {c.kicker} kicks" if c.crosses else ""
    head = (
        f"completion: {ROUTE_NAMES.get(c.route, c.route)}{kicked} → vCPU {c.vcpu}, "
        f"vector {c.vector:#x} (GSI {c.gsi}): "
    )
    body = f"{c.kicks:,} kicks = {c.irqfd_writes:,} irqfd writes = {c.handler_runs:,} handler runs"
    extra = []
    if c.crosses or sum(1 for n in c.runs_on if n) > 1:  # where the runs landed, per vCPU
        extra.append("runs " + " · ".join(f"vCPU {k} {n:,}" for k, n in enumerate(c.runs_on)))
    if c.in_flight > 0:
        extra.append(f"+{c.in_flight} in flight")
    if c.merged:
        extra.append(f"{c.merged:,} merged")
    if c.write_errors:
        extra.append(f"{c.write_errors:,} failed writes")
    if c.resamples is not None:
        extra.append(f"{c.resamples:,} resamples")
    if c.device_work_us:
        extra.append(f"device work {fmt.ns(c.device_work_us * 1000)}")
    if c.negative:
        extra.append(f"{c.negative:,} untimed (clock)")
    tail = f" ({', '.join(extra)})" if extra else ""
    return head + body + tail + (" ✓" if live_ok(c) else " ✗")


class CompletionDetail(Vertical):
    """Counts and stage bar of the selected registration's completion (hidden without one)."""

    DEFAULT_CSS = """
    CompletionDetail { height: auto; display: none; }
    CompletionDetail.-shown { display: block; }
    CompletionDetail > #completion-counts { height: auto; }
    CompletionDetail > StageBars { padding: 0; }
    """

    _drawn: tuple[object, ...] | None = None
    """What the stage bar was last given that it draws (as_round_trip's figures)."""

    def compose(self) -> ComposeResult:
        """The counts line, then the stacked bar."""
        yield DetailLine("", id="completion-counts")
        yield StageBars(id="completion-bars")

    def show(self, stats: RegistrationStats | None, snapshot: Snapshot | None) -> None:
        """Show `stats`'s completion, or hide when it has none."""
        c = stats.completion if stats is not None else None
        self.set_class(c is not None, "-shown")
        if c is None or stats is None:
            return
        reader = snapshot.consumer if snapshot is not None else "epoll"
        self.query_one("#completion-counts", DetailLine).show(counts_text(c))
        # The bar draws the stages' p50s, the total and the verdict: a reading that
        # moved only the counts (each one does) leaves it, and the layout, alone.
        result = as_round_trip(c, stats.spec.bus.value, reader)
        drawn = (result.bus, result.route, result.reader, result.exact, result.total, result.stages)
        if drawn != self._drawn:
            self._drawn = drawn
            self.query_one(StageBars).results = (result,)
