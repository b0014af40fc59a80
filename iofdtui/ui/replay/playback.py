"""The replay's clock: where in the recording we are, how fast it moves, the live edge.

Positions are seconds since the recording began, the frames' own `at`.  A
position moves with the wall clock times the speed while playing and stops
at the last frame; in follow mode the last frame keeps moving, and the
position stays on it ("live") until the user seeks back.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SPEEDS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""What `<` and `>` step through."""

SEEK_STEP_S = 5.0
"""How far ← and → move."""


@dataclass(frozen=True, slots=True)
class PlaybackStatus:
    """Where playback is, for the timeline to draw.

    Attributes:
        frame: the index of the frame shown.
        frames: frames in the recording (so far, when following).
        position: seconds since the recording began.
        start: the first frame's time.
        end: the newest frame's time.
        playing: whether the position moves.
        speed: recording seconds per wall-clock second.
        behind_s: following: seconds behind the newest frame (0: live); None otherwise.
        seeks: jumps so far (a jump's skipped frames are not played through).
    """

    frame: int
    frames: int
    position: float
    start: float
    end: float
    playing: bool
    speed: float
    behind_s: float | None = None
    seeks: int = 0


class Playback:
    """Position, speed and play/pause over frames at known times (not thread-safe:
    `ReplayLab` holds its lock around every call)."""

    def __init__(
        self,
        times: Sequence[float] = (),
        *,
        follow: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start paused at the first frame (or, following, live at the newest).

        Args:
            times: each frame's `at`, in order.
            follow: frames keep coming (`add`); stay on the newest unless sought back.
            clock: the wall clock (monotonic seconds; fixed in tests).
        """
        self.times: list[float] = list(times)
        """Each frame's time, in order."""
        self.follow = follow
        """Whether frames keep coming."""
        self.speed = 1.0
        """Recording seconds per wall-clock second."""
        self.playing = follow
        """Whether the position moves."""
        self.live = follow
        """Following, and on the newest frame."""
        self.seeks = 0
        """How many times the position jumped (a seek, not playback): the screen
        logs the skipped frames' events only when they were played through."""
        self._clock = clock
        self._anchor_pos = self.start
        self._anchor_wall = clock()

    # ------------------------------------------------------------ reading

    @property
    def start(self) -> float:
        """The first frame's time (0 with no frames)."""
        return self.times[0] if self.times else 0.0

    @property
    def end(self) -> float:
        """The newest frame's time."""
        return self.times[-1] if self.times else 0.0

    def position(self) -> float:
        """Where playback is now, within [start, end]."""
        if self.live:
            return self.end
        pos = self._anchor_pos
        if self.playing:
            pos += (self._clock() - self._anchor_wall) * self.speed
        if pos >= self.end:
            if self.follow:
                self.live = True  # caught up with the writer: follow it again
            elif self.playing:
                self._stop_at(self.end)
            return self.end
        return max(pos, self.start)

    def frame_index(self) -> int:
        """The frame shown at the current position: the last one at or before it."""
        if not self.times:
            return 0
        return max(0, bisect.bisect_right(self.times, self.position()) - 1)

    def behind_s(self) -> float | None:
        """Following: seconds behind the newest frame (0 when live); None otherwise."""
        if not self.follow:
            return None
        return self.end - self.position()

    def status(self) -> PlaybackStatus:
        """Everything the timeline shows, read at one instant."""
        pos = self.position()
        return PlaybackStatus(
            self.frame_index(),
            len(self.times),
            pos,
            self.start,
            self.end,
            self.playing,
            self.speed,
            self.behind_s(),
            self.seeks,
        )

    # ------------------------------------------------------------ changing

    def add(self, at: float) -> None:
        """A new frame at `at` (follow mode); times never go back."""
        if self.times and at < self.times[-1]:
            at = self.times[-1]
        if not self.times:
            self._anchor_pos = at
        self.times.append(at)

    def toggle(self) -> bool:
        """Play or pause; returns whether it now plays.  Play at the end starts over."""
        pos = self.position()
        if self.playing:
            self.live = False
            self._stop_at(pos)
            return False
        if not self.follow and pos >= self.end:
            pos = self.start
            self.seeks += 1
        self._anchor_pos, self._anchor_wall = pos, self._clock()
        self.playing = True
        return True

    def set_speed(self, speed: float) -> None:
        """Play at `speed` from here on."""
        pos = self.position()
        self.speed = speed
        self._anchor_pos, self._anchor_wall = pos, self._clock()

    def slower(self) -> float:
        """The next lower of SPEEDS (stays at the lowest); returns it."""
        lower = [s for s in SPEEDS if s < self.speed]
        self.set_speed(lower[-1] if lower else SPEEDS[0])
        return self.speed

    def faster(self) -> float:
        """The next higher of SPEEDS (stays at the highest); returns it."""
        higher = [s for s in SPEEDS if s > self.speed]
        self.set_speed(higher[0] if higher else SPEEDS[-1])
        return self.speed

    def seek(self, pos: float) -> None:
        """Jump to `pos` (clamped); following, the newest frame is live again."""
        pos = min(max(pos, self.start), self.end)
        self.seeks += 1
        self.live = self.follow and pos >= self.end
        self._anchor_pos, self._anchor_wall = pos, self._clock()

    def seek_by(self, delta: float) -> None:
        """Jump `delta` seconds (negative: back)."""
        self.seek(self.position() + delta)

    def seek_frame(self, index: int) -> None:
        """Jump to frame `index` exactly."""
        if self.times:
            self.seek(self.times[min(max(index, 0), len(self.times) - 1)])

    def _stop_at(self, pos: float) -> None:
        self.playing = False
        self._anchor_pos, self._anchor_wall = pos, self._clock()
