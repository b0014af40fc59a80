"""SVG snapshots of the replay screen: a recording paused on an event frame (no /dev/kvm)."""

from __future__ import annotations

from textual.pilot import Pilot

from iofdtui.ui.replay.app import Opened, ReplayApp
from iofdtui.ui.replay.replay_lab import ReplayLab
from iofdtui.ui.widgets.event_log import EventLog
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
    # The event log scrolls to its newest line once laid out: wait for it to get there.
    log = app.main.query_one(EventLog)
    await pilot.pause(0.2)
    await wait_for(pilot, lambda: log.scroll_y == log.max_scroll_y)
    await pilot.pause()


class TestReplayScreen:
    def test_160x45(self, snap_compare) -> None:
        assert snap_compare(paused_app(), run_before=on_second_event, terminal_size=(160, 45))

    def test_80x24(self, snap_compare) -> None:
        assert snap_compare(paused_app(), run_before=on_second_event, terminal_size=(80, 24))
