"""RateSparkline draws exactly what Textual's Sparkline draws, for any data and size."""

from __future__ import annotations

import random

import pytest
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Sparkline

from iofdtui.ui.widgets.rate_sparkline import RateSparkline

_random = random.Random(13)
DATA: list[list[float]] = [
    [],
    [45_012.0],
    [45_012.0, 45_012.0],  # one reading after another with the same rate
    [0.0] * 40,
    [1.0, 2.0],
    [_random.uniform(0, 1e5) for _ in range(7)],  # fewer points than columns
    [_random.uniform(0, 1e5) for _ in range(43)],
    [_random.uniform(4e4, 5e4) for _ in range(120)],  # a minute at 0.5 s
    [float(i % 17) for i in range(301)],  # more points than columns
]


class Pair(App[None]):
    """Textual's sparkline beside ours, the same size and colours."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.CSS = f"Sparkline {{ height: {height}; width: {width}; }}"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Sparkline([], id="textual")
            yield RateSparkline([], id="ours")


def lines(widget: Widget) -> list[Strip]:
    return widget.render_lines(Region(0, 0, *widget.outer_size))


@pytest.mark.parametrize(("height", "width"), [(1, 40), (2, 43), (2, 92), (3, 11)])
async def test_the_same_strips_as_textuals_sparkline(height: int, width: int) -> None:
    app = Pair(height, width)
    async with app.run_test(size=(200, 10)) as pilot:
        textual, ours = app.query_one("#textual", Sparkline), app.query_one(RateSparkline)
        for data in DATA:
            textual.data, ours.data = list(data), list(data)
            await pilot.pause()
            assert ours.size == textual.size == (width, height)
            drawn = lines(ours)
            assert drawn == lines(textual), f"{len(data)} points"
            assert "".join(s.text for s in drawn[-1]).strip(), "the bottom row has bars"


async def test_a_theme_change_recolours_it() -> None:
    app = Pair(2, 40)
    async with app.run_test(size=(200, 10)) as pilot:
        textual, ours = app.query_one("#textual", Sparkline), app.query_one(RateSparkline)
        textual.data = ours.data = DATA[-2]
        await pilot.pause()
        before = lines(ours)
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        assert lines(ours) != before
        assert lines(ours) == lines(textual)
