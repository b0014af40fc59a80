"""Behaviour that needs no VM: start-up failure, palette, sort and filter (fake lab)."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette

from iofdtui.ui.app import EXIT_NO_VM, IofdApp, make_app
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.startup_error import StartupErrorScreen
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.fake_lab import FakeLab, fixed_clock, no_kvm


def app_with(factory=FakeLab) -> IofdApp:  # type: ignore[no-untyped-def]
    return make_app(factory, refresh_interval=0.05, clock=fixed_clock)


async def settle(pilot, predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await pilot.pause(0.02)


async def test_no_kvm_shows_the_cause_in_app_and_exits_with_status_2() -> None:
    app = app_with(no_kvm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, StartupErrorScreen))
        assert app.startup_error is not None and "/dev/kvm does not exist" in app.startup_error
        assert "\n" not in app.startup_error, "one line"
        assert app.check_action("add", ()) is None, "no lab, no engine actions"
        await pilot.press("q")
    assert app.return_code == EXIT_NO_VM


async def test_the_palette_offers_resume_only_while_paused() -> None:
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: app.snapshot is not None)
        titles = [t for t, _h, _cb in IofdCommands(app.screen)._available()]
        assert "Pause guest" in titles and "Resume guest" not in titles
        app.guest_state = "paused"
        titles = [t for t, _h, _cb in IofdCommands(app.screen)._available()]
        assert "Resume guest" in titles and "Pause guest" not in titles
        await pilot.press("ctrl+p")
        await settle(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"reset", "enter")
        await settle(
            pilot, lambda: any("counters reset" in e for e in app.query_one("#log").entries)
        )


async def test_filter_and_sort_keep_the_cursor_on_its_registration() -> None:
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, lambda: app.snapshot is not None)
        table = app.query_one(RegistrationsTable)
        await settle(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=1)
        await pilot.pause()
        assert table.selected_id == 2
        await pilot.press("o")  # address: pio 0x3f8 first, still
        await pilot.press("o")  # signals: equal, then by id
        assert app.sort_key == "signals"
        assert table.selected_id == 2
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(app.screen, FilterPrompt))
        await pilot.press(*"fe00", "enter")
        await settle(pilot, lambda: table.row_count == 1)
        assert table.selected_id == 2
        assert "filter 'fe00': 1 of 2" in str(table.border_subtitle)
