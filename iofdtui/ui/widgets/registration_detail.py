"""The detail pane of the selected registration: its rate and its latency."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Sparkline, Static

from iofdtui.engine.model import format_addr
from iofdtui.engine.snapshot import RegistrationStats, Snapshot, WakeLatency
from iofdtui.ui import format as fmt
from iofdtui.ui.widgets.latency_histogram import LatencyHistogram


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
    mode = f"paced {snap.pace_us:g} µs, consumer {snap.consumer}"
    if wake is None or wake.p50_ns is None:
        return f"wake-up latency ({mode}): no sample yet", False
    return (
        f"wake-up ({mode}): p50 {fmt.ns(wake.p50_ns)} · p99 {fmt.ns(wake.p99_ns)}"
        f" · {wake.samples:,} signals timed, {wake.discarded:,} not",
        True,
    )


class RegistrationDetail(Vertical):
    """Signals/s over the last minute and the drawn latency distributions."""

    DEFAULT_CSS = """
    RegistrationDetail {
        height: 1fr;
        padding: 0 1;
    }
    RegistrationDetail > #detail-title { height: auto; }
    RegistrationDetail > #detail-wake { height: auto; color: $text-muted; }
    RegistrationDetail > #detail-wake.-measured { color: $text; }
    RegistrationDetail > Sparkline { height: 2; margin: 0 0 1 0; }
    RegistrationDetail.-short > Sparkline { height: 1; margin: 0; }
    """

    def on_mount(self) -> None:
        """Say what the drawn latency is."""
        self.border_subtitle = "ring cost: guest-measured, net of timer overhead"

    def compose(self) -> ComposeResult:
        """Title line, sparkline, histogram."""
        yield Static("select a registration", id="detail-title")
        yield Static("", id="detail-wake")
        yield Sparkline([], id="detail-rate")
        yield LatencyHistogram(id="detail-latency")

    def on_resize(self) -> None:
        """On a short pane give the histogram the rows the sparkline would take."""
        self.set_class(self.size.height < 12, "-short")

    def show(
        self,
        stats: RegistrationStats | None,
        rates: Sequence[float],
        window_s: float,
        histogram: Sequence[tuple[float, int]],
        baseline: Sequence[tuple[float, int]],
        overhead_ns: float | None,
        snapshot: Snapshot | None = None,
    ) -> None:
        """Show one registration (or say there is none)."""
        title = self.query_one("#detail-title", Static)
        wake = self.query_one("#detail-wake", Static)
        text, measured = wake_text(stats.wake if stats else None, snapshot)
        wake.update(text)
        wake.set_class(measured, "-measured")
        if stats is None:
            title.update("no registration selected: press a to add one")
            self.query_one(Sparkline).data = []
            self.query_one(LatencyHistogram).show([], [], overhead_ns)
            return
        spec = stats.spec
        peak = max(rates, default=0.0)
        title.update(
            f"[b]#{stats.id}[/b] {spec.bus.value} {format_addr(spec.bus, spec.addr)}"
            f" · signals/s {fmt.rate(stats.signals_per_s)}, peak {fmt.rate(peak)}"
            f" in {window_s:.0f} s"
        )
        self.query_one(Sparkline).data = list(rates)
        if snapshot is not None and snapshot.pace_us is not None:
            # Wake-up latency is not net of anything: both ends are real events.
            self.border_subtitle = "wake-up: guest write → reader running, paced"
            self.query_one(LatencyHistogram).show(histogram, [], None, labels=("wake-up", ""))
            return
        self.border_subtitle = "ring cost: guest-measured, net of timer overhead"
        self.query_one(LatencyHistogram).show(
            histogram, baseline, overhead_ns, labels=("ioeventfd", "userspace exit")
        )
