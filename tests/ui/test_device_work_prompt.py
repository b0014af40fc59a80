"""The device-work prompt (`W`): bounded input, one line per bad value."""

from __future__ import annotations

import pytest
from textual.app import App
from textual.widgets import Input, Static

from iofdtui.ui.screens.device_work import DeviceWorkPrompt, parse_work


@pytest.mark.parametrize(
    ("text", "us"),
    [("50", 50.0), (" 50 µs", 50.0), ("50us", 50.0), ("0.2ms", 200.0), ("0", 0.0), ("1e3", 1000.0)],
)
def test_work_is_read_in_microseconds(text: str, us: float) -> None:
    value, verdict = parse_work(text)
    assert value == us and verdict.startswith("ready")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "type the device's work"),
        ("-5", "is not a time"),
        ("fast", "is not a time"),
        ("nan", "is not a time"),
        ("20000", "at most 10,000 µs"),
        ("11ms", "at most 10,000 µs"),
        ("1e400", "at most 10,000 µs"),
    ],
)
def test_a_bad_work_is_one_line_with_its_fix(text: str, why: str) -> None:
    value, verdict = parse_work(text)
    assert value is None and why in verdict and "\n" not in verdict


async def test_the_prompt_applies_only_a_good_value() -> None:
    results: list[float | None] = []

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(DeviceWorkPrompt(3, "pio 0x600 len 1", 0.0), results.append)

    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, DeviceWorkPrompt)
        assert prompt.query_one("#work", Input).value == "0"
        prompt.query_one("#work", Input).value = "12000"
        await pilot.pause()
        assert "at most" in str(prompt.query_one("#problem", Static).render())
        await pilot.press("enter")
        assert app.screen is prompt and results == []
        prompt.query_one("#work", Input).value = "25"
        await pilot.press("enter")
        await pilot.pause()
        assert results == [25.0]
