"""SVG snapshot: a registration with a completion, selected (fake lab, no /dev/kvm)."""

from __future__ import annotations

from dataclasses import replace

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.latency import Latency
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.widgets.completion_detail import counts_text
from tests.ui.fake_lab import FakeLab
from tests.ui.test_snapshots import fake_app, live

COMPLETION = CompletionStats(
    route="msi",
    vcpu=0,
    vector=0x40,
    gsi=24,
    kicks=12_406,
    irqfd_writes=12_406,
    write_errors=0,
    merged=0,
    handler_runs=12_405,
    resamples=None,
    device_work_us=5.0,
    awake=Latency(12_405, 10_800.0, 41_200.0, 14_100.0),
    written=Latency(12_405, 5_000.0, 5_600.0, 5_100.0),
    handler=Latency(12_405, 36_200.0, 88_000.0, 40_300.0),
    round_trip=Latency(12_405, 50_900.0, 131_000.0, 59_500.0),
)
"""A live reading's completion: one interrupt in flight."""


class CompletionLab(FakeLab):
    """The fake lab whose first registration is answered by an MSI."""

    completions_note = None

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        first = replace(snap.registrations[0], completion=COMPLETION)
        return replace(snap, registrations=(first, *snap.registrations[1:]))


def test_the_counts_line_says_what_balances() -> None:
    assert counts_text(COMPLETION) == (
        "completion: MSI → vCPU 0, vector 0x40 (GSI 24): 12,406 kicks = 12,406 irqfd writes "
        "= 12,405 handler runs (+1 in flight, device work 5.00µs) ✓"
    )
    stuck = replace(COMPLETION, handler_runs=12_400)
    assert counts_text(stuck).endswith("✗")


def test_a_completion_selected_160x45(snap_compare) -> None:
    assert snap_compare(fake_app(CompletionLab), run_before=live, terminal_size=(160, 45))
