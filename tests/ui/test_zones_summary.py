"""The zones table's border line: what the ring's own counters say, nothing hidden."""

from __future__ import annotations

from iofdtui.engine.zone_stats import RingStats
from iofdtui.ui.widgets.zones_table import ring_summary


def _ring(**counts: int) -> RingStats:
    base = dict(
        mode="exits", capacity=170, drains=4, entries=40, found_max=12, full_drains=0,
        stray=0, bad=0, scribbled=0, repaired=0,
    )  # fmt: skip
    base.update(counts)
    return RingStats(**base)  # type: ignore[arg-type]


def test_a_clean_ring_says_who_drains_it_and_how_full() -> None:
    line = ring_summary(_ring())
    assert line == "ring 170 entries, drained at exits · 10 a drain (max 12)"


def test_a_scribbled_ring_says_how_often_and_how_often_it_was_put_back() -> None:
    line = ring_summary(_ring(scribbled=3, repaired=1, stray=2))
    assert "2 stray" in line
    assert "3 scribbled, 1 put back at a pause" in line
    assert "bad" not in line
