"""The detail pane's lines as text: title, ring cost per reader, why, and the wake-up latency.

Pure functions of a snapshot, so the pane can compare what it would show
with what it shows and repaint only the lines that changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

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

READER_STYLE: dict[str, str] = {"none": "$primary", "poll": "$error", "epoll": "$success"}
"""One colour per reader mode, the same wherever it is drawn (so it stays put as `c` cycles)."""

EXIT_STYLE = "$warning"
WAKE_STYLE = "$foreground"


def title_text(stats: RegistrationStats, rates: Sequence[float], window_s: float) -> str:
    """The registration, its signals/s and the peak over the sparkline's window (markup)."""
    spec = stats.spec
    peak = max(rates, default=0.0)
    return (
        f"[b]#{stats.id}[/b] {spec.bus.value} {format_addr(spec.bus, spec.addr)}"
        f" · signals/s {fmt.rate(stats.signals_per_s)}, peak {fmt.rate(peak)}"
        f" in {window_s:.0f} s"
    )


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


def _label_width(compact: bool) -> int:
    """The per-reader table's label column: room for " exit (epoll)" unless compact."""
    return 7 if compact else 13


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
    return ["\n", ("█", style), f"{label:<{_label_width(compact)}}", *(f"{f:>8}" for f in figures)]


def cost_table(stats: RegistrationStats, snap: Snapshot, compact: bool = False) -> Content:
    """Its ring cost under every reader measured since reset, and the exit path's.

    Stream figures (one sample = a visit: the mean per ring of its 16 × weight
    + 1 back-to-back rings) when flat out; the single paced write (the kick)
    when paced.  The reader in force is marked ▸.  Whatever was measured is
    shown; nothing is compared with an expectation.
    """
    paced = snap.pace_us is not None
    width = _label_width(compact)
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
    parts += _cost_row(exit_label, snap.baseline_for(stats), EXIT_STYLE, compact)
    return Content.assemble(*parts)


def _per(value: float | None, unit: str, digits: int = 1) -> str:
    return fmt.DASH if value is None else f"{value:,.{digits}f}{unit}"


def why_text(stats: RegistrationStats, snap: Snapshot, compact: bool = False) -> str:
    """What the cost is made of over the last interval: reader wake-ups, vCPU preemptions.

    Reader wake-ups are this registration's (per 1,000 of its signals);
    preemptions and run-queue wait are the vCPU thread(s)', per ring, lab-wide.
    A dash: not measured (yet).
    """
    mine: WhyCost | None = snap.why_for(stats)
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


__all__ = [
    "EXIT_STYLE",
    "READER_STYLE",
    "WAKE_STYLE",
    "cost_table",
    "title_text",
    "wake_text",
    "why_text",
]
