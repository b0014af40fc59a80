"""`iofdtui bench --roundtrip` as a table: the loop per path, its stages, exact counts."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from iofdtui.engine.roundtrip_figures import STAGE_NOTE, STAGES, RoundTripReport, RoundTripResult
from iofdtui.reports import format as fmt
from iofdtui.reports.blocks import machine_header, titled_table

COLUMNS = (
    "path",
    "bus",
    "route",
    "reader",
    "trips/s",
    "p50 ns",
    "p99 ns",
    "awake p50",
    "written p50",
    "handler p50",
    "kicks",
    "exact",
    "halt exits",
    "injections",
)

PATH_NAMES = {
    "ioeventfd": "ioeventfd → irqfd",
    "user": "exit → KVM_SIGNAL_MSI",
    "self-ipi": "self-IPI (floor)",
}

USER_PIN_NAME = "exit → KVM_IRQ_LINE"
"""The user path on the pin route: the vCPU thread raises and lowers the line itself."""


def row(r: RoundTripResult) -> tuple[str, ...]:
    """One path's cells under COLUMNS."""
    total = r.total
    p50 = [fmt.whole(r.stages[s].p50_ns) if s in r.stages else fmt.DASH for s in STAGES]
    return (
        USER_PIN_NAME if r.path == "user" and r.route == "pin" else PATH_NAMES[r.path],
        r.bus,
        r.route,
        r.reader or fmt.DASH,
        fmt.whole(r.rate),
        fmt.whole(total.p50_ns if total else None),
        fmt.whole(total.p99_ns if total else None),
        *p50,
        fmt.count(r.counts.kicks),
        fmt.tick(r.exact),
        fmt.whole(r.kernel.get("halt_exits")),
        fmt.whole(r.kernel.get("irq_injections")),
    )


def _notes(report: RoundTripReport) -> Text:
    lines = Text(style="dim")
    if report.machine.get("clock_note"):
        lines.append(f"no stages shown: {report.machine['clock_note']}\n", style="bold yellow")
    lines.append(STAGE_NOTE + ".\n")
    lines.append(
        "exact: the guest parked itself and kicks = signals read = completions = handler "
        "runs (user path: kicks = exits = KVM_SIGNAL_MSI or KVM_IRQ_LINE deliveries = handler "
        "runs), with nothing coalesced, merged or failed (pin route's irqfd: and = resamples, "
        "one per EOI; on the user path the vCPU thread lowers the line before re-entry); "
        "--json has every count, the means and each "
        "stage's p99. One kick is in flight at a time; the guest waits for its interrupt "
        "with cli; check; sti; hlt. "
        f"Figures over the last {min(r.samples for r in report.results):,}+ kicks of each run."
    )
    if report.work_us:
        lines.append(f"\ndevice work: {report.work_us:g} µs spun before each completion.")
    return lines


def render(report: RoundTripReport) -> Group:
    """The machine, the table, and what its figures are."""
    m = report.machine
    head = machine_header(
        {**m, "pinning": None}, f"clock: guest TSC = host TSC + {m['tsc_offset']}"
    )
    table = titled_table(
        "round trip: guest kick (pio: OUT to 0x520; mmio: 4 bytes to 0xfe001000) → completion "
        "interrupt handler entered, one vCPU",
        COLUMNS,
        ("path", "bus", "route", "reader"),
    )
    for r in report.results:
        table.add_row(*row(r))
    return Group(head, table, _notes(report))
