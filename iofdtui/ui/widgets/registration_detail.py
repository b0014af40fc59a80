"""The detail pane of the selected registration: its rate, its ring cost per reader, and why."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline, Static

from iofdtui.engine.model import format_addr
from iofdtui.engine.snapshot import (
    READERS,
    Latency,
    RegistrationStats,
    Snapshot,
    WakeLatency,
    WhyCost,
)
from iofdtui.reports import format as fmt

Histogram = Sequence[tuple[float, int]]
"""A raw guest-cycle histogram: (bucket lower bound in ns, count)."""

READER_STYLE: dict[str, str] = {"none": "$primary", "poll": "$error", "epoll": "$success"}
"""One colour per reader mode, the same wherever it is drawn (so it stays put as `c` cycles)."""

EXIT_STYLE = "$warning"
WAKE_STYLE = "$foreground"

_EIGHTHS = " ▏▎▍▌▋▊▉█"
_LABEL_WIDTH = 8


@dataclass(frozen=True)
class DetailHistograms:
    """What the poller read for the selected registration, net: the engine takes
    each sample's share of the timer overhead out of its histograms.

    Attributes:
        current: its ring cost under the reader in force (stream; kick when paced).
        baseline: the userspace-exit path's, same bus and width, same reader and kind.
        by_reader: its stream ring cost under each reader measured since reset.
        wake: paced: guest write → reader running.
    """

    current: Histogram = ()
    baseline: Histogram = ()
    by_reader: dict[str, Histogram] = field(default_factory=dict)
    wake: Histogram = ()


@dataclass(frozen=True)
class Series:
    """One distribution to draw: its legend, its samples (ns, net) and its colour."""

    label: str
    values: list[tuple[float, int]]
    style: str

    @property
    def total(self) -> int:
        """Samples in it."""
        return sum(n for _, n in self.values)


def _bar(fraction: float, width: int) -> str:
    """A horizontal bar `fraction` (0..1) of `width` cells, to an eighth of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (_EIGHTHS[part] if part else "")).ljust(width)


def filled(histogram: Histogram) -> list[tuple[float, int]]:
    """The buckets that hold samples."""
    return [(lo, n) for lo, n in histogram if n > 0]


def _quantile(values: list[tuple[float, int]], q: float) -> float:
    total = sum(n for _, n in values)
    seen = 0
    for lo, n in sorted(values):
        seen += n
        if seen >= q * total:
            return lo
    return values[-1][0]


class CostHistograms(Widget):
    """Several distributions side by side on one log axis: one column of bars each.

    Rows are log-spaced bins over the bulk of every series (p0.5..p99.5); each
    bar is the share of that series' samples in the bin, so shapes compare
    whatever their sample counts.
    """

    DEFAULT_CSS = """
    CostHistograms {
        height: 1fr;
        min-height: 2;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._series: list[Series] = []

    def show(self, series: Sequence[Series]) -> None:
        """Draw these series (empty ones are listed in the legend with n=0)."""
        self._series = list(series)
        self.refresh()

    def render(self) -> Content:
        """The legend, then one row per bin."""
        legend: list[str | tuple[str, str]] = []
        for item in self._series:
            legend += [("█", item.style), f" {item.label} n={item.total:,}  "]
        drawn = [s for s in self._series if s.values]
        if not drawn:
            return Content.assemble(*legend, "\nno timed rings yet")
        lo = min(_quantile(s.values, 0.005) for s in drawn)
        hi = max(_quantile(s.values, 0.995) for s in drawn)
        hi = max(hi, lo * 1.05)
        rows = max(1, min(24, self.size.height - 1))
        # Interior edges only: the first bin takes everything below, the last everything above.
        edges = [lo * (hi / lo) ** (i / rows) for i in range(1, rows)]

        def shares(item: Series) -> list[float]:
            out = [0.0] * rows
            total = item.total
            for value, n in item.values:
                index = next((i for i, edge in enumerate(edges) if value < edge), rows - 1)
                out[index] += n / total
            return out

        columns = [shares(s) for s in self._series]
        peak = max((max(c) for c in columns if any(c)), default=1.0) or 1.0
        count = max(1, len(self._series))
        bar_width = max(3, (self.size.width - _LABEL_WIDTH - 1) // count - 1)
        parts: list[str | tuple[str, str]] = list(legend)
        for i in range(rows):
            if rows == 1:
                label = "all"
            elif i == 0:
                label = "<" + fmt.ns(edges[0])
            else:
                label = "≥" + fmt.ns(edges[i - 1])
            parts += ["\n", (label.rjust(_LABEL_WIDTH), "$text-muted")]
            for item, column in zip(self._series, columns, strict=True):
                parts += [" ", (_bar(column[i] / peak, bar_width), item.style)]
        return Content.assemble(*parts)


def wake_text(wake: WakeLatency | None, snap: Snapshot | None) -> tuple[str, bool]:
    """The wake-up latency line, saying which mode it comes from; True when it has figures."""
    if snap is None:
        return "", False
    if snap.wake_note is not None:
        return f"wake-up latency unavailable: {snap.wake_note}", False
    if snap.pace_us is None:
        if snap.vcpus > 1:
            return "wake-up latency: paced mode runs on one vCPU (v to switch back)", False
        return "wake-up latency: press w to pace the plan (one ring per wake-up)", False
    mode = f"paced {snap.pace_us:g} µs, reader {snap.consumer}"
    if snap.consumer == "none":
        return f"wake-up latency ({mode}): nobody waits on the eventfd, so none to time", False
    if wake is None or wake.p50_ns is None:
        return f"wake-up latency ({mode}): no sample yet", False
    return (
        f"wake-up ({mode}): p50 {fmt.ns(wake.p50_ns)} · p99 {fmt.ns(wake.p99_ns)}"
        f" · {wake.samples:,} signals timed, {wake.discarded:,} not",
        True,
    )


def _cost_row(
    label: str, cost: Latency | None, style: str, compact: bool
) -> list[str | tuple[str, str]]:
    """One line of the per-reader table: label, p50, p99, mean (and samples, unless compact)."""
    if cost is None or not cost.samples:
        figures = [fmt.DASH] * 3 + ["0"]
    else:
        figures = [fmt.ns(cost.p50_ns), fmt.ns(cost.p99_ns), fmt.ns(cost.mean_ns)]
        figures.append(fmt.count(cost.samples, True))
    if compact:
        figures = figures[:3]
    width = 7 if compact else 12
    return ["\n", ("█", style), f"{label:<{width}}", *(f"{f:>8}" for f in figures)]


def cost_table(stats: RegistrationStats, snap: Snapshot, compact: bool = False) -> Content:
    """Its ring cost under every reader measured since reset, and the exit path's.

    Stream figures (one sample = a visit: the mean per ring of its 16 × weight
    + 1 back-to-back rings) when flat out; the single paced write (the kick)
    when paced.  The reader in force is marked ▸.  Whatever was measured is
    shown; nothing is compared with an expectation.
    """
    paced = snap.pace_us is not None
    width = 7 if compact else 12
    head = "per kick" if paced else "per ring"
    columns = ("p50", "p99", "mean") if compact else ("p50", "p99", "mean", "samples")
    parts: list[str | tuple[str, str]] = [
        (f" {head:<{width}}" + "".join(f"{c:>8}" for c in columns), "$text-muted")
    ]
    measured = {cost.reader: cost for cost in stats.by_reader}
    for reader in READERS:
        cost = measured.get(reader)
        if cost is None and reader != snap.consumer:
            continue
        figure = (cost.kick if paced else cost.stream) if cost is not None else None
        if reader == snap.consumer and (figure is None or not figure.samples):
            figure = stats.kick if paced else stats.latency
        mark = "▸" if reader == snap.consumer else " "
        style = READER_STYLE.get(reader, "$foreground")
        parts += _cost_row(f"{mark}{reader}", figure, style, compact)
    exit_label = " exit" if compact else f" exit ({snap.consumer})"
    parts += _cost_row(exit_label, stats.baseline, EXIT_STYLE, compact)
    return Content.assemble(*parts)


def _per(value: float | None, unit: str, digits: int = 1) -> str:
    return fmt.DASH if value is None else f"{value:,.{digits}f}{unit}"


def why_text(stats: RegistrationStats, snap: Snapshot, compact: bool = False) -> str:
    """What the cost is made of over the last interval: reader wake-ups, vCPU preemptions.

    Reader wake-ups are this registration's (per 1,000 of its signals);
    preemptions and run-queue wait are the vCPU thread(s)', per ring, lab-wide.
    A dash: not measured (yet).
    """
    mine: WhyCost | None = stats.why
    lab: WhyCost | None = snap.why
    wakeups = _per(mine.wakeups_per_1k_signals if mine else None, "", 0)
    preempt = _per(lab.preemptions_per_1k_rings if lab else None, "", 2)
    wait = fmt.ns(lab.runqueue_ns_per_ring) if lab else fmt.DASH
    if compact:
        return (
            f"why: {wakeups} reader wake-ups/1k signals · vCPU {preempt} preemptions/1k"
            f" rings, {wait} queued/ring"
        )
    return (
        f"why, over {fmt.seconds(snap.interval_s)}: reader wake-ups {wakeups} per 1k signals"
        f" · vCPU preempted {preempt} per 1k rings · run-queue wait {wait} per ring"
    )


class RegistrationDetail(Vertical):
    """Signals/s over the last minute, ring cost per reader, why, and the distributions."""

    DEFAULT_CSS = """
    RegistrationDetail {
        height: 1fr;
        padding: 0 1;
    }
    RegistrationDetail > #detail-title { height: auto; }
    RegistrationDetail > #detail-costs { height: auto; }
    RegistrationDetail > #detail-why { height: auto; color: $text-muted; }
    RegistrationDetail > #detail-wake { height: auto; color: $text-muted; }
    RegistrationDetail > #detail-wake.-measured { color: $text; }
    RegistrationDetail > Sparkline { height: 2; margin: 0 0 1 0; }
    RegistrationDetail.-short > Sparkline { display: none; }
    """

    def on_mount(self) -> None:
        """Say what the drawn latency is."""
        self.border_subtitle = "ring cost: guest-measured, net of timer overhead"

    def compose(self) -> ComposeResult:
        """Title, per-reader costs, why, wake-up line, sparkline, distributions."""
        yield Static("select a registration", id="detail-title")
        yield Static("", id="detail-costs")
        yield Static("", id="detail-why")
        yield Static("", id="detail-wake")
        yield Sparkline([], id="detail-rate")
        yield CostHistograms(id="detail-latency")

    def on_resize(self) -> None:
        """On a short pane give the distributions the rows the sparkline would take."""
        self.set_class(self.size.height < 16, "-short")

    def show(
        self,
        stats: RegistrationStats | None,
        rates: Sequence[float],
        window_s: float,
        histograms: DetailHistograms,
        snapshot: Snapshot | None = None,
    ) -> None:
        """Show one registration (or say there is none)."""
        title = self.query_one("#detail-title", Static)
        costs = self.query_one("#detail-costs", Static)
        why = self.query_one("#detail-why", Static)
        wake = self.query_one("#detail-wake", Static)
        paced = snapshot is not None and snapshot.pace_us is not None
        text, measured = wake_text(stats.wake if stats else None, snapshot)
        wake.update(text)
        wake.set_class(measured, "-measured")
        wake.display = paced or stats is None
        plot = self.query_one(CostHistograms)
        if stats is None or snapshot is None:
            title.update("no registration selected: press a to add one")
            costs.update("")
            why.update("")
            self.query_one(Sparkline).data = []
            plot.show([])
            return
        spec = stats.spec
        peak = max(rates, default=0.0)
        title.update(
            f"[b]#{stats.id}[/b] {spec.bus.value} {format_addr(spec.bus, spec.addr)}"
            f" · signals/s {fmt.rate(stats.signals_per_s)}, peak {fmt.rate(peak)}"
            f" in {window_s:.0f} s"
        )
        compact = self.size.width < 60
        costs.update(cost_table(stats, snapshot, compact))
        why.update(why_text(stats, snapshot, compact))
        self.query_one(Sparkline).data = list(rates)
        reader = snapshot.consumer
        if paced:
            # The kick's cost beside the exit's, and the wake-up on the same axis
            # (the wake-up is not net of anything: both its ends are real events).
            self.border_subtitle = (
                "paced: one write's cost (kick) · wake-up: write → reader running"
            )
            plot.show(
                [
                    Series(
                        f"kick ({reader})",
                        filled(histograms.current),
                        READER_STYLE.get(reader, "$success"),
                    ),
                    Series("exit", filled(histograms.baseline), EXIT_STYLE),
                    Series("wake-up", filled(histograms.wake), WAKE_STYLE),
                ]
            )
            return
        self.border_subtitle = "ring cost: guest-measured, net of timer overhead"
        by_reader = dict(histograms.by_reader)
        if reader not in by_reader and histograms.current:
            by_reader[reader] = histograms.current
        series = [
            Series(name, filled(by_reader[name]), READER_STYLE.get(name, "$success"))
            for name in READERS
            if name in by_reader
        ]
        series.append(Series(f"exit ({reader})", filled(histograms.baseline), EXIT_STYLE))
        plot.show(series)


__all__ = ["CostHistograms", "DetailHistograms", "RegistrationDetail", "Series", "wake_text"]
