"""The scale screen and a 1,000-registration table, against fakes (no /dev/kvm needed)."""

from __future__ import annotations

import threading
from dataclasses import replace

from textual.message import Message
from textual.pilot import Pilot

from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.messages import GuestPaused, GuestResumed
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.scale_plot import ScalePlotScreen
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from iofdtui.ui.widgets.scale_plot import ScalePlot
from tests.ui.conftest import outcomes, wait_for
from tests.ui.fake_lab import REGISTRATIONS, SNAPSHOT, FakeLab, fixed_clock
from tests.ui.fake_sweep import NOTES, POINTS, FakeSweep


def app_with(sweep: FakeSweep, labs: list[FakeLab]) -> IofdApp:
    def factory(vcpus: int = 1) -> FakeLab:
        labs.append(FakeLab(vcpus))
        return labs[-1]

    return make_app(factory, refresh_interval=0.05, clock=fixed_clock, scale_sweep=sweep)


async def open_scale(pilot: Pilot, app: IofdApp) -> ScalePlotScreen:
    """Press `x`; the scale screen, once it is up."""
    await pilot.press("x")
    await wait_for(pilot, lambda: isinstance(app.screen, ScalePlotScreen))
    screen = app.screen
    assert isinstance(screen, ScalePlotScreen)
    return screen


async def test_x_plots_every_point_and_pauses_the_live_guest_until_closed() -> None:
    messages: list[Message] = []
    sweep, labs = FakeSweep(), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        titles = [t for t, _h, _cb in IofdCommands(app.screen).available()]
        assert "Scale plot" in titles
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: screen.report is not None)
        assert screen.points == list(POINTS)
        assert labs[0].state == "paused", "the live guest waits while the results are shown"
        assert outcomes(messages, GuestPaused)
        [decoys] = screen.query_one("#decoys-plot", ScalePlot).series
        assert [x for x, _y in decoys.points] == [1, 10, 100, 1_000, 10_000]
        walk = screen.query_one("#walk-plot", ScalePlot).series
        assert [s.name for s in walk] == ["hit-first", "hit-last", "miss"]
        assert all(len(s.points) == 4 for s in walk)
        explain = str(screen.query_one("#scale-explain").render())
        assert NOTES[0] in explain, "a limit that stopped the sweep is shown"
        assert "21 ns per entry" in explain  # (12,511 - 1,615) / 511, from the points
        assert "paused for the sweep" in str(screen.query_one("#scale-live").render())
        assert not screen.running and screen.check_action("rerun", ()) is True

        await pilot.press("r")
        await wait_for(pilot, lambda: sweep.runs == 2 and screen.report is not None)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScalePlotScreen))
        await wait_for(pilot, lambda: labs[0].state == "running")
        assert outcomes(messages, GuestResumed)


async def test_closing_mid_sweep_stops_it_after_the_current_point() -> None:
    gate = threading.Event()
    sweep, labs = FakeSweep(gate=gate), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: len(screen.points) == 1)
        assert screen.running and screen.check_action("rerun", ()) is False
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScalePlotScreen))
        assert labs[0].state == "paused", "the sweep still holds the CPUs until it stops"
        gate.set()  # the point being measured ends; on_point says stop
        await wait_for(pilot, lambda: sweep.finished.is_set())
        assert sweep.stopped
        await wait_for(pilot, lambda: labs[0].state == "running")


async def test_a_guest_the_user_paused_stays_paused_after_the_sweep() -> None:
    sweep, labs = FakeSweep(), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        labs[0].pause()
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: screen.report is not None)
        assert "already paused" in str(screen.query_one("#scale-live").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScalePlotScreen))
        await wait_for(pilot, lambda: sweep.finished.is_set())
        await pilot.pause(0.1)
        assert labs[0].state == "paused"


async def test_q_closes_the_scale_screen_like_the_help_screen() -> None:
    sweep, labs = FakeSweep(), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: screen.report is not None)
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, ScalePlotScreen))
        assert app.is_running, "q on the scale screen closes it; q again quits"
        await wait_for(pilot, lambda: labs[0].state == "running")


async def test_a_sweep_that_fails_mid_way_keeps_its_points_and_says_where() -> None:
    """An open-file limit after 12 of 18 points: the 12 stay plotted, with why it stopped."""
    sweep, labs = FakeSweep(fail_after=12), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: not screen.running and sweep.finished.is_set())
        await pilot.pause()
        assert screen.points == list(POINTS[:12])
        assert screen.report is not None and screen.report.points == POINTS[:12]
        [decoys] = screen.query_one("#decoys-plot", ScalePlot).series
        assert len(decoys.points) == 5
        status = str(screen.query_one("#scale-status").render())
        assert "could not run" not in status
        assert "stopped after 12 of 18 points: EMFILE: out of file descriptors" in status
        explain = str(screen.query_one("#scale-explain").render())
        assert "stopped after 12 of 18 points: EMFILE" in explain
        assert [p.n for p in screen.points if p.series == "decoys"][-1] == 10_000
        assert screen.check_action("rerun", ()) is True


async def test_a_sweep_that_measures_nothing_could_not_run() -> None:
    sweep, labs = FakeSweep(fail_after=0), []
    app = app_with(sweep, labs)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        screen = await open_scale(pilot, app)
        await wait_for(pilot, lambda: not screen.running and sweep.finished.is_set())
        await pilot.pause()
        assert screen.points == [] and screen.report is None
        assert "the sweep could not run: EMFILE" in str(screen.query_one("#scale-status").render())


# ---------------------------------------------------------- 1,000 registrations

THOUSAND = 1_000


def _thousand() -> Snapshot:
    """The fixed snapshot with 1,000 registrations: PIO ports, then MMIO addresses."""
    regs = []
    for i in range(THOUSAND):
        if i % 2:
            spec = RegistrationSpec(Bus.MMIO, 0xD000_0000 + 0x10 * i, 4)
        else:
            spec = RegistrationSpec(Bus.PIO, 0x1000 + i, 1)
        base = REGISTRATIONS[i % 2]
        regs.append(replace(base, id=i + 1, spec=spec, eventfd=20 + i, signals=(i * 7919) % 1000))
    return replace(SNAPSHOT, registrations=tuple(regs))


class ThousandLab(FakeLab):
    """The fake lab, listing 1,000 registrations."""

    snap = _thousand()

    def snapshot(self) -> Snapshot:
        """The same 1,000 rows every time."""
        return self.snap


async def test_a_thousand_registrations_sort_filter_and_scroll() -> None:
    app = make_app(ThousandLab, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count == THOUSAND)
        table.focus()
        await pilot.pause()
        assert table.selected_id == 1

        # Scroll: a page down moves the cursor a screenful and the view with it.
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: table.cursor_row > 1 and table.scroll_y > 0)
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.selected_id == THOUSAND)

        # Sort by address (o): PIO ports 0x1000.. come before MMIO 0xd0000000..,
        # and the cursor stays on its registration.
        await pilot.press("o")
        await wait_for(pilot, lambda: app.main.sort_key == "address")
        ids = [int(row.key) for row in table.ordered_rows[:3]]
        assert ids == [1, 3, 5]
        assert table.selected_id == THOUSAND

        # Click the signals header: most signals first.
        gutter = table.styles.gutter  # the border, where the narrow layout keeps one
        at = (gutter.left + _header_x(table, "signals"), gutter.top)
        await pilot.click(RegistrationsTable, offset=at)
        await wait_for(pilot, lambda: app.main.sort_key == "signals")
        signals = {r.id: r.signals for r in ThousandLab.snap.registrations}
        shown = [signals[int(row.key)] for row in table.ordered_rows]
        assert shown == sorted(shown, reverse=True)

        # Filter by address (f): only the MMIO rows stay.
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterPrompt))
        await pilot.press(*"d000", "enter")
        await wait_for(pilot, lambda: table.row_count == THOUSAND // 2)
        assert f"filter 'd000': {THOUSAND // 2} of {THOUSAND}" in str(table.border_subtitle)


def _header_x(table: RegistrationsTable, column_key: str) -> int:
    """The x offset of a column's header within the table."""
    x = 0
    for column in table.ordered_columns:
        if column.key == column_key:
            return x + 1
        x += column.get_render_width(table)
    raise AssertionError(f"no column {column_key}")
