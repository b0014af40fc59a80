"""The detail pane of the selected registration: its rate, its ring cost per reader, and why.

Each reading hands the pane everything it shows; each part repaints only when
what it shows changed (a line's text and styles, the sparkline's data, the
histograms' series), so a reading that changes nothing shown repaints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Vertical

from iofdtui.engine.snapshot import READERS, RegistrationStats, Snapshot
from iofdtui.ui.widgets.completion_detail import CompletionDetail
from iofdtui.ui.widgets.cost_histograms import CostHistograms, Histogram, Series, filled
from iofdtui.ui.widgets.detail_line import DetailLine
from iofdtui.ui.widgets.detail_text import (
    EXIT_STYLE,
    READER_STYLE,
    WAKE_STYLE,
    cost_table,
    title_text,
    wake_text,
    why_text,
)
from iofdtui.ui.widgets.rate_sparkline import RateSparkline

FLAT_SUBTITLE = "ring cost: guest-measured, net of timer overhead"
PACED_SUBTITLE = "paced: one write's cost (kick) · wake-up: write → reader running"


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
        self.border_subtitle = FLAT_SUBTITLE

    def compose(self) -> ComposeResult:
        """Title, per-reader costs, why, wake-up line, sparkline, distributions."""
        yield DetailLine("select a registration", id="detail-title")
        yield DetailLine("", id="detail-costs")
        yield DetailLine("", id="detail-why")
        yield DetailLine("", id="detail-wake")
        yield CompletionDetail(id="detail-completion")
        yield RateSparkline([], id="detail-rate")
        yield CostHistograms(id="detail-latency")

    def on_resize(self) -> None:
        """On a short pane give the distributions the rows the sparkline would take."""
        self.set_class(self.size.height < 16, "-short")

    def _subtitle(self, text: str) -> None:
        # Setting a border subtitle repaints the whole pane, even to the same text.
        if self.border_subtitle != text:
            self.border_subtitle = text

    def show(
        self,
        stats: RegistrationStats | None,
        rates: Sequence[float],
        window_s: float,
        histograms: DetailHistograms,
        snapshot: Snapshot | None = None,
    ) -> None:
        """Show one registration (or say there is none); repaint only what changed."""
        title = self.query_one("#detail-title", DetailLine)
        costs = self.query_one("#detail-costs", DetailLine)
        why = self.query_one("#detail-why", DetailLine)
        wake = self.query_one("#detail-wake", DetailLine)
        paced = snapshot is not None and snapshot.pace_us is not None
        text, measured = wake_text(stats.wake if stats else None, snapshot)
        wake.show(text)
        wake.set_class(measured, "-measured")
        wake.display = paced or stats is None
        self.query_one(CompletionDetail).show(stats, snapshot)
        plot = self.query_one(CostHistograms)
        # Sparkline.data is reactive: an equal list repaints nothing.
        rate = self.query_one(RateSparkline)
        if stats is None or snapshot is None:
            title.show("no registration selected: press a to add one")
            costs.show("")
            why.show("")
            rate.data = []
            plot.show([])
            return
        title.show(title_text(stats, rates, window_s))
        compact = self.size.width < 60
        costs.show(cost_table(stats, snapshot, compact))
        why.show(why_text(stats, snapshot, compact))
        rate.data = list(rates)
        reader = snapshot.consumer
        if paced:
            # The kick's cost beside the exit's, and the wake-up on the same axis
            # (the wake-up is not net of anything: both its ends are real events).
            self._subtitle(PACED_SUBTITLE)
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
        self._subtitle(FLAT_SUBTITLE)
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


__all__ = [
    "CostHistograms",
    "DetailHistograms",
    "DetailLine",
    "RegistrationDetail",
    "Series",
    "wake_text",
]
