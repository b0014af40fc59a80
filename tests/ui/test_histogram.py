"""The ring-cost histogram at any height, down to a single row."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult

from iofdtui.ui.widgets.latency_histogram import LatencyHistogram

# Raw ns with the timer overhead (1,760 ns) still in them, as the engine gives them.
FAST = [(2_900.0, 40), (3_200.0, 120), (3_500.0, 60), (4_400.0, 20), (9_000.0, 23)]
SLOW = [(8_400.0, 150), (8_800.0, 80), (9_600.0, 22), (12_000.0, 10)]


class HistogramHost(App[None]):
    CSS = "LatencyHistogram { height: %d; min-height: 0; width: 46; }"

    def __init__(self, height: int) -> None:
        self.CSS = self.CSS % height
        super().__init__()

    def compose(self) -> ComposeResult:
        yield LatencyHistogram()


async def drawn(height: int) -> list[str]:
    """The histogram's lines as shown, at this height."""
    app = HistogramHost(height)
    async with app.run_test(size=(60, 30)) as pilot:
        hist = app.query_one(LatencyHistogram)
        hist.show(FAST, SLOW, 1_760.0)
        await pilot.pause()
        assert hist.size.height == height
        return hist.render().plain.split("\n")


def bar_cells(text: str) -> float:
    """How long a bar is, in cells (eighths count)."""
    eighths = " ▏▎▍▌▋▊▉█"
    return sum(eighths.index(ch) / 8 for ch in text if ch in eighths)


async def test_one_row_shows_the_range_and_bars_in_proportion() -> None:
    lines = await drawn(2)
    assert len(lines) == 2  # the legend, and one row
    row = lines[1]
    assert "inf" not in row
    # The row's range spans both distributions (net of the 1.76 µs overhead).
    label, bars = row.split(maxsplit=1)
    assert label == "1.14µs–10.2µs", row
    fast, slow = re.findall(r"[▏▎▍▌▋▊▉█]+", bars)
    # Bars in proportion to each path's median (1.44 µs and 6.64 µs) against
    # the top of the range: neither fills its half of the row.
    half = len(row[len(label) + 1 :]) / 2
    assert 0.1 < bar_cells(fast) / half < 0.2, row
    assert 0.55 < bar_cells(slow) / half < 0.75, row


async def test_several_rows_bin_both_paths_with_no_infinite_edge() -> None:
    lines = await drawn(8)
    assert len(lines) == 8
    assert not any("inf" in line for line in lines)
    assert lines[1].split()[0].startswith("<") and lines[2].split()[0].startswith("≥")
