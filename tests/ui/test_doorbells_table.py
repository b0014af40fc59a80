"""The doorbells table's live and exact check cells."""

from __future__ import annotations

from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import DoorbellStats, VcpuCounts
from iofdtui.ui.widgets.doorbells_table import live_cell, per_vcpu_cell


def _door(rings: int, signals: int, exits: int, issued: int | None) -> DoorbellStats:
    return DoorbellStats(Bus.PIO, 0x3F8, rings, signals, exits, (), issued)


def test_live_cell_shows_the_rings_in_flight_inside_the_bracket() -> None:
    assert live_cell(_door(100, 60, 40, 100)) == "✓"
    assert live_cell(_door(100, 80, 37, 117)) == "✓ +17"


def test_live_cell_turns_to_a_cross_when_a_count_is_lost_or_invented() -> None:
    assert live_cell(_door(100, 60, 37, 117)) == "✗ -3"  # three rings nobody counted
    assert live_cell(_door(100, 80, 40, 117)) == "✗ +20"  # more counted than issued


def test_without_issued_only_the_exact_balance_counts() -> None:
    assert live_cell(_door(100, 60, 40, None)) == "✓"
    assert live_cell(_door(100, 60, 41, None)) == "✗ +1"


def test_per_vcpu_cell_gives_each_vcpus_rings_and_exits() -> None:
    door = DoorbellStats(
        Bus.PIO,
        0x600,
        1_336_528,
        0,
        1_336_528,
        (),
        1_336_528,
        per_vcpu=(VcpuCounts(0, 1_006_156, 1_006_156), VcpuCounts(1, 330_372, 330_372)),
    )
    assert per_vcpu_cell(door) == "0:1.01M/1.01M 1:330k/330k"
    assert per_vcpu_cell(door, compact=True) == "0:1.01M 1:330k"
