"""Behaviour that needs no VM: start-up failure, palette, sort and filter (fake lab)."""

from __future__ import annotations

import asyncio

from textual.command import CommandPalette

from iofdtui.engine.snapshot import VcpuCounts
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


class TwoVcpuLab(FakeLab):
    """The fixed snapshot, rung by two vCPUs (the first has a third of every count)."""

    def snapshot(self):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        from tests.ui.fake_lab import SNAPSHOT

        def split(door):  # type: ignore[no-untyped-def]
            first = VcpuCounts(0, door.rings // 3, door.exits // 3, door.rings // 3)
            rest = VcpuCounts(1, door.rings - first.rings, door.exits - first.exits)
            return replace(door, issued=door.rings, per_vcpu=(first, rest))

        return replace(SNAPSHOT, vcpus=2, doorbells=tuple(split(d) for d in SNAPSHOT.doorbells))


async def test_two_vcpus_split_shows_rings_and_exits_only_where_it_fits() -> None:
    app = app_with(TwoVcpuLab)
    async with app.run_test(size=(170, 45)) as pilot:
        table = app.query_one("#doorbells")

        def headers() -> dict[str, str]:
            return {str(c.key.value): c.label.plain.strip() for c in table.columns.values()}

        await settle(pilot, lambda: "vcpus" in headers())
        assert headers()["vcpus"] == "vCPU:rings" and "misses" not in headers()
        assert table.get_cell("pio:600", "vcpus").plain.strip() == "0:44.8k 1:89.6k"
        await pilot.resize_terminal(250, 45)
        await settle(pilot, lambda: "misses" in headers())
        assert headers()["vcpus"] == "vCPU:rings/exits"
        assert table.get_cell("pio:600", "vcpus").plain.strip() == "0:44.8k/44.8k 1:89.6k/89.6k"
