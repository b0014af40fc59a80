"""The guided tour on the real engine (/dev/kvm): every step of the shipped tour checks out,
and a step whose effect is prevented says that it did not happen."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from textual.pilot import Pilot

from iofdtui.recording.reader import read_recording
from iofdtui.tour import DEFAULT_TOUR, Tour, parse_tour
from iofdtui.tour.run import StepResult
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.widgets.tour_panel import TourPanel
from tests.ui.conftest import wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm

STEP_TIMEOUT = 60.0
"""Seconds a step may take here: its window is seconds, but the machine is shared and emulated."""


def shipped_tour(seconds: float) -> Tour:
    """The tour the app ships, with a longer window per step (the counts, not the times,
    are what the checks compare; a longer window only makes them steadier)."""
    text = files("iofdtui.tour").joinpath(DEFAULT_TOUR).read_text()
    assert "\nseconds = 2.0\n" in text
    return parse_tour(text.replace("\nseconds = 2.0\n", f"\nseconds = {seconds}\n"), DEFAULT_TOUR)


async def panel_of(pilot: Pilot) -> TourPanel:
    app = pilot.app
    assert isinstance(app, IofdApp)
    await live(pilot)
    await wait_for(pilot, lambda: app.tour_panel is not None)
    panel = app.tour_panel
    assert panel is not None
    await wait_for(pilot, lambda: app.focused is panel)
    return panel


async def run_step(pilot: Pilot, panel: TourPanel) -> StepResult:
    """Enter runs the step shown; wait for its verdict."""
    index = panel.run.current
    assert panel.run.phase == "ready"
    await pilot.press("enter")
    await wait_for(pilot, lambda: index in panel.run.results, timeout=STEP_TIMEOUT)
    return panel.run.results[index]


def log_lines(app: IofdApp) -> list[str]:
    return list(app.query_one("#log").entries)  # type: ignore[attr-defined]


async def test_every_step_of_the_shipped_tour_checks_out() -> None:
    app = make_app(refresh_interval=0.25, tour=shipped_tour(3.0))
    async with app.run_test(size=(160, 45)) as pilot:
        panel = await panel_of(pilot)
        total = panel.run.total
        for _ in range(total):
            result = await run_step(pilot, panel)
            assert result.ok, result.line(total)
            await pilot.press("enter")  # on to the next step (the last: finished)
        assert panel.run.phase == "finished" and panel.run.passed == total
        verdicts = [line for line in log_lines(app) if f"/{total} " in line]
        assert len(verdicts) == total and all(" ✓ " in line for line in verdicts)
        assert any("tour over: 10 of 10 steps did what they said" in e for e in log_lines(app))
        # The tour removed what it added: the demo's two registrations are left.
        assert app.snapshot is not None
        assert [r.spec.describe() for r in app.snapshot.registrations] == [
            "pio 0x03f8/1 any value",
            "mmio 0xfe000000/4 =0x1",
        ]
        await pilot.press("enter")  # closes the finished tour
        await wait_for(pilot, lambda: app.tour_panel is None)


PREVENTED = """
[tour]
title = "a tour whose guest never rings 0x0600"
seconds = 2.0

[[step]]
title = "A plan without 0x0600"
text = "The guest rings 0x03f8 and the MMIO baseline only."
action = { do = "plan", slots = [
    { bus = "pio", addr = 0x03f8, width = 1, value = 0x42 },
    { bus = "mmio", addr = 0xfe0ff000, width = 4, value = 0 },
] }

[[step.check]]
expect = "grows"
count = "exits"
doorbell = "mmio 0xfe0ff000"

[[step]]
title = "A wildcard at 0x0600"
text = "Signals would grow, if the guest rang there."
action = { do = "add", bus = "pio", addr = 0x0600, width = 1, name = "door" }

[[step.check]]
expect = "grows"
count = "signals"
registration = "door"

[[step]]
title = "The same wildcard again"
text = "The kernel refuses a second wildcard at the same doorbell (EEXIST)."
action = { do = "add", bus = "pio", addr = 0x0600, width = 1, name = "again" }

[[step.check]]
expect = "grows"
count = "signals"
registration = "again"

[[step]]
title = "Remove what was never added"
text = "Its add was refused, so there is nothing to remove."
action = { do = "remove", name = "again" }

[[step.check]]
expect = "exact"
"""


async def test_a_step_whose_effect_is_prevented_says_it_did_not_happen(tmp_path: Path) -> None:
    recording = tmp_path / "tour.jsonl"
    tour = parse_tour(PREVENTED, "prevented.toml")
    app = make_app(refresh_interval=0.25, tour=tour, record=str(recording))
    async with app.run_test(size=(160, 45)) as pilot:
        panel = await panel_of(pilot)
        plan = await run_step(pilot, panel)
        assert plan.ok, plan.line(4)
        await pilot.press("enter")

        # The guest's plan never writes 0x0600: the registration takes nothing.
        added = await run_step(pilot, panel)
        assert added.action_ok and not added.ok
        reg_id = panel.run.ids["door"]
        assert added.line(4).startswith(
            f"tour 2/4 ✗ A wildcard at 0x0600: did not happen: expected signals on 'door' "
            f"(#{reg_id}) to grow; they stayed at 0 (+0 over "
        )
        await pilot.press("enter")

        # The engine call fails (the kernel's EEXIST): the step says so, and why.
        refused = await run_step(pilot, panel)
        assert not refused.action_ok
        assert refused.line(4).startswith(
            "tour 3/4 ✗ The same wildcard again: did not happen: registering pio 0x0600/1 "
            "any value refused: EEXIST"
        )
        await pilot.press("enter")

        gone = await run_step(pilot, panel)
        assert not gone.ok and "'again' was never registered" in gone.action_text

        lines = log_lines(app)
        assert any(line.endswith(added.line(4)) for line in lines), "the verdict is logged"
        assert any(line.endswith(refused.line(4)) for line in lines)
        verdict = str(panel.query_one("#tour-verdict").render())
        assert "It did not happen" in verdict and "'again' was never registered" in verdict
        for _ in range(2):  # a reading after the last verdict carries it into the recording
            shown = app.snapshot
            await wait_for(pilot, lambda: app.snapshot is not shown)  # noqa: B023

    # The tour was recorded like any session: its verdicts are the recording's events.
    events = [e.text for frame in read_recording(recording).frames for e in frame.events]
    assert [e for e in events if e.startswith("tour ")] == [
        "tour started: a tour whose guest never rings 0x0600 (4 steps)",
        plan.line(4),
        added.line(4),
        refused.line(4),
        gone.line(4),
    ]
