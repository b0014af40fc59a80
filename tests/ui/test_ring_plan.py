"""The ring-plan editor refuses, on the line at fault, what the guest cannot ring."""

from __future__ import annotations

from textual.app import App
from textual.widgets import Button, Input, Static

from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.ui.screens.ring_plan import RingPlanScreen
from iofdtui.ui.widgets.plan_line import PlanLine

PLAN = (
    SlotSpec(Bus.PIO, 0x03F8, 1, 0x42, 32),
    SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1, 32),
    SlotSpec(Bus.MMIO, 0xFE00_0000, 4, 0x2, 32),
)


class EditorHost(App[None]):
    """Just the editor: records what it is dismissed with."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[list[SlotSpec] | None] = []

    def on_mount(self) -> None:
        self.push_screen(RingPlanScreen(PLAN), self.results.append)


async def test_an_mmio_address_past_4_gib_is_refused_on_its_line() -> None:
    app = EditorHost()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        editor = app.screen
        assert isinstance(editor, RingPlanScreen)
        lines = list(editor.query(PlanLine))
        lines[1].query_one("#addr", Input).value = "0x100000000"
        await pilot.pause()
        problem = str(editor.query_one("#problem", Static).render())
        assert problem.startswith("line 2: MMIO doorbells must be below 4 GiB"), problem
        assert lines[1].query_one("#addr").has_class("-invalid")
        assert not lines[0].query_one("#addr").has_class("-invalid")
        assert editor.query_one("#apply", Button).disabled
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.screen is editor, "ctrl+r must not apply a plan the guest cannot ring"
        assert app.results == []
        # The last address below 4 GiB is fine again.
        lines[1].query_one("#addr", Input).value = "0xfffffffc"
        await pilot.pause()
        assert not editor.query_one("#apply", Button).disabled
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert app.results and app.results[0] is not None
        assert app.results[0][1] == SlotSpec(Bus.MMIO, 0xFFFF_FFFC, 4, 0x1, 32)
