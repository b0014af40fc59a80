"""The tour's panel on a fake lab (no /dev/kvm): its keys, the palette, and its layout (SVG).

The fake lab's one reading never moves, so the readings a step judges are made
up here (`tests/tour/synthetic.py` style: the engine's dataclasses, counts
chosen) and handed to the app as the poller would.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

from textual.pilot import Pilot

from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.snapshot import Snapshot
from iofdtui.tour import default_tour
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.bindings import COMMANDS
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.messages import SnapshotReady
from iofdtui.ui.widgets.tour_panel import TourPanel
from tests.tour.synthetic import PIO_600, doorbell
from tests.ui.conftest import engine_idle, wait_for
from tests.ui.fake_lab import REGISTRATIONS, SNAPSHOT, FakeLab, fixed_clock

DOOR = RegistrationSpec(Bus.PIO, 0x0600, 1)


def tour_app() -> IofdApp:
    """The app on a fake lab with the shipped tour open; one reading only from the lab."""
    return make_app(FakeLab, refresh_interval=3600.0, clock=fixed_clock, tour=default_tour())


def at_0600(taken_at: float, exits: int, signals: int) -> Snapshot:
    """The fake's reading with 0x0600's counts (and #3 on it once it signals) chosen."""
    doors = tuple(
        doorbell(PIO_600, exits + signals, signals, exits) if (d.bus, d.addr) == PIO_600 else d
        for d in SNAPSHOT.doorbells
    )
    regs = SNAPSHOT.registrations
    if signals:
        regs += (replace(REGISTRATIONS[0], id=3, spec=DOOR, eventfd=16, signals=signals),)
    # 0x0600 is one of the plan's five doorbells: a fifth of the guest's rings.
    total = 5 * (exits + signals)
    return replace(
        SNAPSHOT, taken_at=taken_at, doorbells=doors, registrations=regs, total_rings=total
    )


async def feed(pilot: Pilot, readings: list[Snapshot]) -> None:
    """Hand readings to the app one at a time (a newer one replaces an unhandled older one)."""
    for snap in readings:
        pilot.app.post_message(SnapshotReady(snap))
        await pilot.pause()


async def open_panel(pilot: Pilot) -> TourPanel:
    app = pilot.app
    assert isinstance(app, IofdApp)
    await wait_for(pilot, lambda: app.tour_panel is not None and app.snapshot is not None)
    panel = app.tour_panel
    assert panel is not None
    return panel


async def two_steps_done(pilot: Pilot) -> None:
    """Steps 1 (0x0600 exits at 40k/s) and 2 (a wildcard there: 41k/s of signals) judged ✓."""
    panel = await open_panel(pilot)
    await pilot.press("enter")  # step 1: the demo plan, then watch
    await engine_idle(pilot)
    await wait_for(pilot, lambda: panel.run.phase == "watching")
    assert panel.run.action is not None
    t = panel.run.action.done_at + 0.25
    await feed(pilot, [at_0600(t + k, 100_000 + 40_000 * k, 0) for k in range(3)])
    assert panel.run.results[0].ok, panel.run.results[0].line(10)
    # Those readings were dated up to 2.25 s ahead: let the clock pass them, so the next
    # action comes after them, as it would live.
    await asyncio.sleep(max(0.0, t + 2.05 - time.monotonic()))
    await pilot.press("enter", "enter")  # step 2: register the wildcard
    await engine_idle(pilot)
    await wait_for(pilot, lambda: panel.run.phase == "watching")
    t = panel.run.action.done_at + 0.25
    await feed(pilot, [at_0600(t + k, 180_000, 41_000 * (k + 1)) for k in range(3)])
    assert panel.run.results[1].ok, panel.run.results[1].line(10)


def test_tour_panel_160x45(snap_compare) -> None:
    assert snap_compare(tour_app(), run_before=two_steps_done, terminal_size=(160, 45))


async def test_the_verdicts_go_to_the_event_log() -> None:
    app = tour_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await two_steps_done(pilot)
        lines = list(app.query_one("#log").entries)  # type: ignore[attr-defined]
        assert "12:00:00 tour started: ioeventfd, step by step (10 steps)" in lines
        assert (
            "12:00:00 tour 2/10 ✓ Register a wildcard ioeventfd there: exits at pio 0x0600 "
            "stopped growing (+0 over 2.0 s; 40.0k/s before); signals on 'door' (#3) grew "
            "+82,000 over 2.0 s (41.0k/s); signals on 'door' (#3) grow at 41.0k/s, the rate of "
            "rings at pio 0x0600 (41.0k/s; 0% apart, within 5%); signals on 'door' (#3) take "
            "20.0% of the guest's rings, the share exits at pio 0x0600 had before (20.0%; "
            "within 10%)"
        ) in lines


async def test_t_opens_the_tour_escape_closes_it_and_the_palette_follows() -> None:
    app = make_app(FakeLab, refresh_interval=3600.0, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)

        def titles() -> list[str]:
            return [t for t, _h, _cb in IofdCommands(app.screen).available()]

        assert "Guided tour" in titles() and "Tour: next" not in titles()
        await pilot.press("T")
        await wait_for(pilot, lambda: app.tour_panel is not None)
        panel = app.tour_panel
        assert panel is not None and app.focused is panel
        assert panel.border_title == "Tour · step 1/10: A doorbell that exits"
        assert {"Tour: next", "Tour: back", "Tour: close"} <= set(titles())
        # Enter with no reading yet since the panel opened: the step waits for one.
        await pilot.press("b", "space")
        assert panel.run.phase == "before"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.tour_panel is None)
        assert "Tour: next" not in titles()
        lines = list(app.query_one("#log").entries)  # type: ignore[attr-defined]
        assert lines[-1] == "12:00:00 tour closed at step 1/10"


def test_the_tour_keys_are_in_the_one_command_table() -> None:
    tour_keys = {(c.action, c.key, c.aliases) for c in COMMANDS if c.scope == "tour"}
    assert tour_keys == {
        ("tour_next", "enter", ("space", "n")),
        ("tour_back", "b", ()),
        ("tour_close", "escape", ()),
    }
    bound = {(b.key, b.action) for b in TourPanel.BINDINGS}  # type: ignore[union-attr]
    assert ("n", "tour_next") in bound and ("escape", "tour_close") in bound
    assert ("T", "tour") in {(b.key, b.action) for b in IofdApp.BINDINGS}  # type: ignore[union-attr]
