"""SVG snapshots of the replay screen: a recording paused on an event frame (no /dev/kvm)."""

from __future__ import annotations

from textual.pilot import Pilot

from iofdtui.ui.replay.app import Opened, ReplayApp
from iofdtui.ui.replay.replay_lab import ReplayLab
from iofdtui.ui.replay.timeline import Timeline
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import fixed_clock
from tests.ui.replay_frames import HEADER, frames, signals_at


def paused_app() -> ReplayApp:
    """The test recording on a clock that never moves: nothing plays by itself."""
    lab = ReplayLab(HEADER, frames(60), clock=lambda: 1000.0)
    return ReplayApp(Opened(lab, "demo.jsonl.gz"), refresh_interval=0.05, clock=fixed_clock)


async def on_second_event(pilot: Pilot) -> None:
    """Jump to the second event (frame 12), with the first row's histograms drawn."""
    app = pilot.app
    assert isinstance(app, ReplayApp)
    await wait_for(pilot, lambda: app.snapshot is not None and app.main.selected_id == 1)
    await pilot.press("n")
    await wait_for(pilot, lambda: app.snapshot.registrations[0].signals == signals_at(12))
    await wait_for(pilot, lambda: app.main.reader_histograms != {})
    await pilot.pause(0.2)


class TestReplayScreen:
    def test_160x45(self, snap_compare) -> None:
        assert snap_compare(paused_app(), run_before=on_second_event, terminal_size=(160, 45))


async def test_at_80x24_the_timeline_and_its_keys_fit() -> None:
    # No SVG at 80x24: there the event log's wrapped lines get their heights
    # laid out after it scrolls, so which line is at its bottom varies by run.
    app = paused_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await on_second_event(pilot)
        timeline = app.main.query_one(Timeline)
        assert timeline.region.bottom <= 23 and timeline.region.width == 80
        line = str(timeline.render()).splitlines()[0]
        assert "paused" in line and "0:03.0 / 0:14.8" in line and "frame 13 of 60" in line
        shown = {b.key for _, b, enabled, _ in app.screen.active_bindings.values() if b.show}
        assert {"space", "n", "h", "q"} <= shown
