"""The replay app on a recording (Pilot): the timeline's keys, its events, the lab's keys refused.

Playback runs on a fake clock, so "two seconds of playing" is exact; the
frames count `signals_at(i)` at frame i (`replay_frames.py`), so the tables
say which frame is shown.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest
from textual.pilot import Pilot

from iofdtui.recording.reader import RecordingError
from iofdtui.recording.writer import Recorder
from iofdtui.ui.bindings import palette
from iofdtui.ui.replay.app import Opened, ReplayApp, open_recording
from iofdtui.ui.replay.replay_lab import ReplayLab
from iofdtui.ui.replay.timeline import Timeline
from iofdtui.ui.screens.main import MainScreen
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.rate_sparkline import RateSparkline
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import fixed_clock
from tests.ui.replay_frames import EVENT_FRAMES, FRAME_S, HEADER, frames, signals_at


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replay_app(clock: Clock, count: int = 60, refresh: float = 0.05) -> ReplayApp:
    lab = ReplayLab(HEADER, frames(count), clock=clock)
    return ReplayApp(Opened(lab, "test.jsonl"), refresh_interval=refresh, clock=fixed_clock)


def shown(app: ReplayApp) -> int | None:
    """Signals of registration #1 in the last reading shown."""
    snap = app.snapshot
    return snap.registrations[0].signals if snap else None


async def until_frame(pilot: Pilot, app: ReplayApp, index: int) -> None:
    await wait_for(pilot, lambda: shown(app) == signals_at(index))
    await pilot.pause()


def log_lines(app: ReplayApp) -> list[str]:
    return list(app.main.query_one(EventLog).entries)


async def test_play_pause_changes_the_reading() -> None:
    clock = Clock()
    app = replay_app(clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        clock.now += 5.0  # paused: the wall clock moves, the recording does not
        await pilot.pause(0.2)
        assert shown(app) == signals_at(0)
        await pilot.press("space")
        clock.now += 2.0  # two seconds at 1×: eight frames on
        await until_frame(pilot, app, 8)
        await pilot.press("space")
        clock.now += 3.0
        await pilot.pause(0.2)
        assert shown(app) == signals_at(8)
        view = app.main.query_one(Timeline).view
        assert view is not None and not view.status.playing and view.status.frame == 8


async def test_speed_scales_playback() -> None:
    clock = Clock()
    app = replay_app(clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press("greater_than_sign", "greater_than_sign", "space")  # 4×
        clock.now += 1.0
        await until_frame(pilot, app, 16)
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")  # 0.5×
        clock.now += 2.0
        await until_frame(pilot, app, 20)
        assert app.replay.status().speed == 0.5


async def test_seeks_land_on_the_right_frame() -> None:
    clock = Clock()
    app = replay_app(clock)
    step = round(5.0 / FRAME_S)  # ← and → move 5 s
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press("right")
        await until_frame(pilot, app, step)
        await pilot.press("right", "left", "left")
        await until_frame(pilot, app, 0)
        await pilot.press("end")
        await until_frame(pilot, app, 59)
        await pilot.press("home")
        await until_frame(pilot, app, 0)


async def test_event_jumps_land_on_event_frames_and_log_them() -> None:
    clock = Clock()
    app = replay_app(clock)
    marked = sorted(EVENT_FRAMES)  # 0, 12, 40
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        assert any(EVENT_FRAMES[0] in line for line in log_lines(app))
        await pilot.press("n")
        await until_frame(pilot, app, marked[1])
        assert EVENT_FRAMES[marked[1]] in log_lines(app)[-1]
        await pilot.press("n")
        await until_frame(pilot, app, marked[2])
        assert log_lines(app)[-1].endswith(EVENT_FRAMES[marked[2]])
        await pilot.press("n")  # none after the last: it stays, and says so
        await pilot.pause(0.2)
        assert shown(app) == signals_at(marked[2])
        await pilot.press("N")
        await until_frame(pilot, app, marked[1])
        # The recorded time of day, not the replay's: 12:00:00 + 3 s.
        assert log_lines(app)[-1].startswith("12:00:03 ")


async def test_playing_through_logs_every_event_in_order() -> None:
    clock = Clock()
    app = replay_app(clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press("space")
        for target in (5, 20, 45):  # in steps, as readings come
            clock.now += (target * FRAME_S) - (clock.now - 1000.0)
            await until_frame(pilot, app, target)
        texts = [t for line in log_lines(app) for t in EVENT_FRAMES.values() if t in line]
        assert texts == [EVENT_FRAMES[i] for i in sorted(EVENT_FRAMES)]


@pytest.mark.parametrize(
    ("key", "action"),
    [
        ("a", "adding a registration"),
        ("d", "removing a registration"),
        ("e", "editing the ring plan"),
        ("p", "pausing the guest"),
        ("r", "resetting the counters"),
        ("c", "switching the eventfd reader"),
        ("w", "pacing the ring plan"),
        ("v", "switching the vCPUs"),
        ("W", "setting a device's work"),
        ("x", "the scale sweep"),
        ("T", "the guided tour"),
    ],
)
async def test_the_lab_keys_say_it_is_a_recording(key: str, action: str) -> None:
    app = replay_app(Clock())
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press(key)
        await pilot.pause()
        line = f"this is a recording: {action} needs a live lab (run iofdtui)"
        assert log_lines(app)[-1].endswith(line)
        assert isinstance(app.screen, MainScreen), "no form or sweep opened"
        assert shown(app) == signals_at(0)


async def test_the_lab_refuses_changes_with_the_same_line() -> None:
    lab = ReplayLab(HEADER, frames(3))
    with pytest.raises(OSError, match=r"^this is a recording: resetting the counters needs"):
        lab.reset_counters()
    with pytest.raises(OSError, match="adding a registration"):
        lab.add_registration(frames(1)[0].snapshot.registrations[0].spec)


def test_the_palette_offers_the_timeline_not_the_lab() -> None:
    offered = {c.action for c, _ in palette(replay=True)}
    assert {"play_pause", "seek_back", "next_event", "filter", "help"} <= offered
    assert not offered & {"add", "remove", "pause", "reset", "scale_plot", "toggle_pinning", "tour"}
    assert not {c.action for c, _ in palette()} & {"play_pause", "next_event"}


async def test_the_footer_offers_the_timeline_not_the_lab() -> None:
    app = replay_app(Clock())
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        shown_keys = {
            b.key
            for (_, b, enabled, _) in app.screen.active_bindings.values()
            if b.show and enabled
        }
        assert {"space", "less_than_sign", "greater_than_sign", "n"} <= shown_keys
        assert not {"a", "d", "e", "r", "c", "x"} & shown_keys


async def test_a_truncated_last_line_is_a_note_in_the_log(tmp_path: Path) -> None:
    from tests.ui.replay_frames import write_recording

    path = write_recording(tmp_path / "cut.jsonl", count=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the last frame cut mid-line
    opened = open_recording(path)
    assert len(opened.lab.frames) == 9
    app = ReplayApp(opened, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        notes = [line for line in log_lines(app) if "cut short" in line]
        assert len(notes) == 1 and "line 11" in notes[0], log_lines(app)


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"not json\n", "line 1"),
        (b'{"kind":"header","schema":99}\n', "line 1"),
    ],
)
def test_an_unreadable_recording_is_one_line_naming_it(
    tmp_path: Path, content: bytes | None, expect: str
) -> None:
    path = tmp_path / "r.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RecordingError) as caught:
        open_recording(path)
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(path)) and expect in text


def test_a_header_without_frames_is_refused(tmp_path: Path) -> None:
    from tests.ui.replay_frames import write_recording

    path = write_recording(tmp_path / "empty.jsonl", count=0)
    with pytest.raises(RecordingError, match="no frame"):
        open_recording(path)


async def test_follow_stays_live_until_sought_back(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "growing.jsonl"
    made = frames(60)
    with Recorder(path, HEADER) as rec:

        def write(first: int, last: int) -> None:
            for f in made[first:last]:
                rec.frame(f.at, f.snapshot, f.histograms, f.events)

        write(0, 40)
        app = ReplayApp(
            open_recording(path, follow_it=True, clock=clock),
            refresh_interval=0.05,
            clock=fixed_clock,
        )
        async with app.run_test(size=(160, 45)) as pilot:
            await until_frame(pilot, app, 39)  # the newest frame, live
            timeline = app.main.query_one(Timeline)
            assert timeline.view is not None and timeline.view.status.behind_s == 0
            write(40, 44)
            await until_frame(pilot, app, 43)  # it keeps up
            await pilot.press("left")  # 5 s back: no longer live
            await until_frame(pilot, app, 43 - 20)
            write(44, 48)
            await wait_for(pilot, lambda: app.replay.status().frames == 48)
            await pilot.pause(0.2)
            assert shown(app) == signals_at(23)
            assert app.replay.status().behind_s == pytest.approx(6.0)
            await pilot.press("end")  # live again
            await until_frame(pilot, app, 47)
            write(48, 50)
            await until_frame(pilot, app, 49)
        # Quitting closed the lab: its follow thread, waiting for a line of a
        # file still open for writing, ended at once.
        follower = [t for t in threading.enumerate() if t.name == "replay follow"]
        for thread in follower:
            thread.join(2.0)
        assert not any(t.is_alive() for t in follower)


async def test_help_lists_the_timeline_keys() -> None:
    from textual.widgets import Markdown

    from iofdtui.ui.screens.help import HelpScreen

    app = replay_app(Clock(), refresh=3600.0)  # one reading: the help renders alone
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(Markdown).source
        assert "play/pause" in text and "previous event" in text
        assert "`a` add" not in text and "say in one line that this is a recording" in text


async def test_frame_times_past_any_date_still_show() -> None:
    # Untrusted input: a finite `at` too large for a datetime must not break the log.
    made = [dataclasses.replace(f, at=1e300 * (i + 1)) for i, f in enumerate(frames(3))]
    lab = ReplayLab(HEADER, made, clock=Clock())
    app = ReplayApp(Opened(lab, "huge.jsonl"), refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        await pilot.press("end")
        await until_frame(pilot, app, 2)
        assert app.main.query_one(Timeline).view is not None


def test_the_shipped_demo_is_found_and_says_what_it_is() -> None:
    from iofdtui.ui.replay.app import demo_path

    opened = open_recording(demo_path())
    header = opened.lab.header
    assert header.source == "demo" and header.note
    assert len(opened.lab.frames) >= 10 and opened.lab.take_notes() == []
    final = opened.lab.frames[-1].snapshot.checkpoint
    assert final is not None and final.holds


async def test_the_sparkline_has_the_recordings_minute_after_a_jump_or_a_fast_play() -> None:
    clock = Clock()
    app = replay_app(clock)
    step = round(5.0 / FRAME_S)

    def points() -> int:
        return len(app.main.query_one(RateSparkline).data or [])

    async with app.run_test(size=(160, 45)) as pilot:
        await until_frame(pilot, app, 0)
        assert points() == 1
        await pilot.press("right")  # a jump: every frame of the minute before it
        await until_frame(pilot, app, step)
        assert points() == step + 1
        await pilot.press("left")  # back: the history starts again from there
        await until_frame(pilot, app, 0)
        assert points() == 1
        await pilot.press(*["greater_than_sign"] * 3, "space")  # 8×: readings skip frames
        clock.now += 1.0
        await until_frame(pilot, app, 32)
        assert points() == 33  # the frames played through, not only those read


def test_following_a_file_with_no_header_says_so_and_leaves_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from iofdtui.ui.replay import app as replay_app_module

    monkeypatch.setattr(replay_app_module, "HEADER_WAIT_S", 0.2)
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    with pytest.raises(RecordingError, match="no header line"):
        open_recording(path, follow_it=True)
    header_threads = [t for t in threading.enumerate() if t.name == "replay header"]
    for thread in header_threads:
        thread.join(1.0)
    assert not any(t.is_alive() for t in header_threads)
