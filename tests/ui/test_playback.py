"""The replay's clock on a fake wall clock: position, speed, the end, and follow's live edge."""

from __future__ import annotations

import pytest

from iofdtui.ui.replay.playback import SPEEDS, Playback

TIMES = [i * 0.5 for i in range(21)]  # 0 .. 10 s, a frame every 0.5 s


class Wall:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_paused_until_played_then_moves_with_the_wall_clock() -> None:
    wall = Wall()
    pb = Playback(TIMES, clock=wall)
    wall.now += 3
    assert pb.position() == 0 and pb.frame_index() == 0
    pb.toggle()
    wall.now += 1.2
    assert pb.position() == pytest.approx(1.2) and pb.frame_index() == 2


def test_playing_stops_at_the_end_and_play_starts_over() -> None:
    wall = Wall()
    pb = Playback(TIMES, clock=wall)
    pb.toggle()
    wall.now += 60
    assert pb.position() == 10 and not pb.playing and pb.frame_index() == 20
    assert pb.toggle() and pb.position() == 0


def test_speed_steps_and_bounds() -> None:
    wall = Wall()
    pb = Playback(TIMES, clock=wall)
    for _ in range(10):
        pb.faster()
    assert pb.speed == SPEEDS[-1]
    pb.toggle()
    wall.now += 0.5
    assert pb.position() == pytest.approx(0.5 * SPEEDS[-1])
    for _ in range(10):
        pb.slower()
    assert pb.speed == SPEEDS[0]


def test_seeks_clamp_and_count() -> None:
    pb = Playback(TIMES, clock=Wall())
    pb.seek_by(-5)
    assert pb.position() == 0
    pb.seek_by(25)
    assert pb.position() == 10
    pb.seek_frame(7)
    assert pb.frame_index() == 7 and pb.status().seeks == 3


def test_follow_is_live_until_sought_back_and_live_again_at_the_end() -> None:
    wall = Wall()
    pb = Playback(clock=wall, follow=True)
    for at in TIMES:
        pb.add(at)
    assert pb.live and pb.behind_s() == 0 and pb.frame_index() == 20
    pb.seek_by(-4)
    assert not pb.live and pb.behind_s() == pytest.approx(4)
    pb.add(10.5)  # the writer goes on: further behind, until playing catches up
    assert pb.behind_s() == pytest.approx(4.5)
    wall.now += 4.5
    assert pb.position() == 10.5 and pb.live
    pb.add(11.0)
    assert pb.frame_index() == 22
