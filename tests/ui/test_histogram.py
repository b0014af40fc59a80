"""The detail pane's ring-cost histograms at any height, down to a single row,
and drawn again only when their series change."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from iofdtui.ui.widgets.cost_histograms import CostHistograms, Series
from tests.ui.render_count import count_renders, paint

# Net ns, as the engine gives them (each sample's timer share already out).
FAST = [(1_140.0, 40), (1_440.0, 120), (1_740.0, 60), (2_640.0, 20), (7_240.0, 23)]
SLOW = [(6_640.0, 150), (7_040.0, 80), (7_840.0, 22), (10_240.0, 10)]


class HistogramHost(App[None]):
    CSS = "CostHistograms { height: %d; min-height: 0; width: 46; }"

    def __init__(self, height: int) -> None:
        self.CSS = self.CSS % height
        super().__init__()

    def compose(self) -> ComposeResult:
        yield CostHistograms()


async def drawn(height: int) -> list[str]:
    """The histograms' lines as shown, at this height."""
    app = HistogramHost(height)
    async with app.run_test(size=(60, 30)) as pilot:
        hist = app.query_one(CostHistograms)
        hist.show([Series("epoll", FAST, "$success"), Series("exit", SLOW, "$warning")])
        await pilot.pause()
        assert hist.size.height == height
        return hist.render().plain.split("\n")


async def test_one_row_holds_every_sample_and_says_so() -> None:
    lines = await drawn(2)
    assert len(lines) == 2  # the legend, and one row
    assert "n=263" in lines[0] and "n=262" in lines[0]
    row = lines[1]
    assert "inf" not in row
    assert row.split()[0] == "all"


async def test_several_rows_bin_both_paths_with_no_infinite_edge() -> None:
    lines = await drawn(8)
    assert len(lines) == 8
    assert not any("inf" in line for line in lines)
    assert lines[1].split()[0].startswith("<") and lines[2].split()[0].startswith("≥")
    # The fast path's bulk sits in lower rows than the exit's.
    first_fast = next(i for i, line in enumerate(lines[1:]) if "█" in line.split()[1][:5])
    assert first_fast <= 2


async def test_unchanged_series_are_not_drawn_again_and_changed_ones_are(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders = count_renders(monkeypatch, CostHistograms)
    app = HistogramHost(8)
    async with app.run_test(size=(60, 30)) as pilot:
        hist = app.query_one(CostHistograms)
        hist.show([Series("epoll", list(FAST), "$success"), Series("exit", SLOW, "$warning")])
        await pilot.pause()
        paint(hist)
        first = renders["CostHistograms"]
        assert first >= 1
        # The next reading: new lists, the same counts.
        hist.show([Series("epoll", list(FAST), "$success"), Series("exit", list(SLOW), "$warning")])
        await pilot.pause()
        paint(hist)
        assert renders["CostHistograms"] == first
        # One more sample in one bucket: drawn again, and the legend says so.
        more = [*FAST[:-1], (7_240.0, 24)]
        hist.show([Series("epoll", more, "$success"), Series("exit", SLOW, "$warning")])
        await pilot.pause()
        paint(hist)
        assert renders["CostHistograms"] > first
        assert "n=264" in hist.render().plain.splitlines()[0]
        # A change of colour alone is a change too.
        again = renders["CostHistograms"]
        hist.show([Series("epoll", more, "$error"), Series("exit", SLOW, "$warning")])
        await pilot.pause()
        paint(hist)
        assert renders["CostHistograms"] > again


def test_zero_negative_and_non_finite_buckets_from_a_recording_still_draw() -> None:
    # A replayed file is untrusted: a 0 ns bound once divided by zero (log axis),
    # a NaN or infinite one has no place on any axis.
    import math

    from iofdtui.ui.widgets.cost_histograms import filled, histogram_content

    hostile = [(0.0, 5), (-0.0, 3), (-50.0, 1), (math.nan, 2), (math.inf, 1), (100.0, 4)]
    for values in (filled(hostile), filled([(0.0, 7)])):
        lines = histogram_content([Series("epoll", values, "$success")], 46, 8).plain.split("\n")
        assert len(lines) == 8 and "nan" not in "".join(lines)
    assert sum(n for _, n in filled(hostile)) == 13  # the NaN and infinite buckets left out
