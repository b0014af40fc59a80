"""The doorbells table's live and exact check cells."""

from __future__ import annotations

from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import DoorbellStats
from iofdtui.ui.widgets.doorbells_table import live_cell


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
