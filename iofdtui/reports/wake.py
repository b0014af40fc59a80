"""`iofdtui bench --wake` as a table: wake-up latency and the kick, per bus and reader."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.experiments.wake import WakeReport, WakeResult
from iofdtui.engine.model import Bus
from iofdtui.reports import format as fmt
from iofdtui.reports.blocks import titled_table

COLUMNS = (
    "bus",
    "reader",
    "samples",
    "p50 ns",
    "p99 ns",
    "mean ns",
    "discarded",
    "kick p50 ns",
    "kick p99 ns",
    "signals",
    "exact",
)

SAMPLES_NOTE = (
    ".\nA sample is kept only when the consumer alone read exactly one signal, made by "
    "the last ring; every other signal is counted as discarded, with its reason "
    "(--json), so samples + discarded = signals.\nkick: the guest-timed cost of the "
    "paced write itself (rdtsc from its stamp to just after the write, net of the same "
    "window without the write): a virtio-style notify to an idle device. Under reader "
    "none nobody waits on the eventfd, so there is no wake-up to time."
)


def _row(r: WakeResult) -> tuple[str, ...]:
    w, kick = r.wake, r.kick
    # No p50: no clock mapping or no sample, so no figure at all.
    timed = (w.p50_ns, w.p99_ns, w.mean_ns) if w and w.p50_ns is not None else (None,) * 3
    return (
        r.phase.bus.value,
        r.phase.consumer,
        fmt.whole(w.samples if w else 0),
        *(fmt.whole(v) for v in timed),
        fmt.whole(w.discarded if w else None),
        fmt.whole(kick.p50_ns if kick else None),
        fmt.whole(kick.p99_ns if kick else None),
        fmt.whole(r.signals),
        fmt.tick(r.exact),
    )


def _notes(report: WakeReport) -> Text:
    lines = Text(style="dim")
    if report.pinning:
        lines.append(f"pinned: {report.pinning}\n", style="bold")
    if report.note:
        lines.append(f"no latency shown: {report.note}\n", style="bold yellow")
    for bus in (Bus.PIO, Bus.MMIO):
        cost = report.sleeping_cost_ns(bus)
        if cost is not None:
            lines.append(
                f"{bus.value}: a consumer that sleeps in epoll_wait wakes {fmt.whole(cost)} ns "
                "later at p50 than one that polls (and the polling one holds a CPU).\n",
                style="bold",
            )
    lines.append(
        f"clock: guest TSC = host TSC + {report.tsc_offset} (KVM_VCPU_TSC_OFFSET, read while "
        "the vCPU was not running); the guest stamps each ring 4 instructions before its "
        "write"
    )
    if "kvm_pvm" in report.kvm_module:
        lines.append(" (on kvm_pvm each is emulated, ~0.45 µs, and included)")
    lines.append(SAMPLES_NOTE)
    return lines


def render(report: WakeReport) -> Group:
    """The table and the notes that say what its figures are."""
    table = titled_table(
        f"wake-up latency: guest doorbell write → reader thread running, and the "
        f"write's own cost (paced: one ring every {report.period_us:g} µs)",
        COLUMNS,
        ("bus", "reader"),
    )
    for r in report.results:
        table.add_row(*_row(r))
    return Group(table, _notes(report))
