"""SVG snapshots of the app's screens, fed a fixed snapshot (no /dev/kvm needed)."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import Input, Select

from iofdtui.engine.model import Bus
from iofdtui.engine.zone_stats import ZoneSpec
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.screens.scale_plot import ScalePlotScreen
from tests.ui.conftest import engine_idle, show_reading, until_live
from tests.ui.fake_lab import FakeLab, fixed_clock, no_kvm
from tests.ui.fake_sweep import FakeSweep


def fake_app(factory=FakeLab) -> IofdApp:  # type: ignore[no-untyped-def]
    """The app around a fake lab; one reading only (the next is an hour away)."""
    return make_app(factory, refresh_interval=3600.0, clock=fixed_clock)


async def live(pilot: Pilot) -> None:
    """The first screenful with histograms (conftest's `until_live`), on the first row."""
    reading = await until_live(pilot)
    assert reading.selected == 1


async def reread(pilot: Pilot) -> None:
    """Let the engine calls finish, then show one more reading, as the poller would."""
    await engine_idle(pilot)
    await show_reading(pilot)


class TestMainScreen:
    def test_80x24(self, snap_compare) -> None:
        assert snap_compare(fake_app(), run_before=live, terminal_size=(80, 24))

    def test_160x45(self, snap_compare) -> None:
        assert snap_compare(fake_app(), run_before=live, terminal_size=(160, 45))


class TestReaders:
    """Every reader mode measured since reset, side by side; paced with pinning."""

    def test_three_readers_160x45(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            for _ in range(3):  # none, poll, back to epoll
                await pilot.press("c")
                await pilot.pause()
            await reread(pilot)

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(160, 45))

    def test_three_readers_80x24(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            for _ in range(3):
                await pilot.press("c")
                await pilot.pause()
            await reread(pilot)

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(80, 24))

    def test_paced_and_pinned_160x45(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            await pilot.press("w")
            await pilot.pause()
            pilot.app.action_toggle_pinning()
            await pilot.pause()
            await reread(pilot)

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(160, 45))


class TestSmallTerminal:
    def test_40x12(self, snap_compare) -> None:
        assert snap_compare(fake_app(), run_before=live, terminal_size=(40, 12))


class TestAddForm:
    def test_validation_error(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            await pilot.press("a")
            await pilot.pause()
            await pilot.press(*"0x10000")  # past the last port
            await pilot.pause()
            for field in pilot.app.screen.query(Input):
                field.cursor_blink = False
            await pilot.pause()

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(80, 24))


class TestCoalescedZone:
    """The add form's zone kind, and a zone over PIO 0x0600 in its own table."""

    def test_zone_form(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            await pilot.press("a")
            await pilot.pause()
            pilot.app.screen.query_one("#kind", Select).value = "zone"
            await pilot.pause()
            await pilot.press(*"0x600")
            pilot.app.screen.query_one("#size", Input).value = "0x8"
            for field in pilot.app.screen.query(Input):
                field.cursor_blink = False
            await pilot.pause()

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(80, 24))

    def test_zone_over_a_doorbell_160x45(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            pilot.app.session.add(ZoneSpec(Bus.PIO, 0x600, 8))
            await reread(pilot)
            await reread(pilot)

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(160, 45))


class TestHelp:
    def test_help_screen(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            await pilot.press("h")
            await pilot.pause()

        assert snap_compare(fake_app(), run_before=run_before, terminal_size=(100, 34))


class TestScaleScreen:
    def test_scale_plot(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            await live(pilot)
            await pilot.press("x")
            for _ in range(1000):
                screen = pilot.app.screen
                if isinstance(screen, ScalePlotScreen) and screen.report is not None:
                    break
                await asyncio.sleep(0.01)
            await pilot.pause()

        app = make_app(FakeLab, refresh_interval=3600.0, clock=fixed_clock, scale_sweep=FakeSweep())
        assert snap_compare(app, run_before=run_before, terminal_size=(120, 40))


class TestStartupError:
    def test_no_kvm(self, snap_compare) -> None:
        async def run_before(pilot: Pilot) -> None:
            for _ in range(200):
                if pilot.app.startup_error is not None:
                    break
                await asyncio.sleep(0.01)
            await pilot.pause()

        assert snap_compare(fake_app(no_kvm), run_before=run_before, terminal_size=(80, 24))
