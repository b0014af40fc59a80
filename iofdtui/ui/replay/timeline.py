"""The timeline: where the replay is, how fast it plays, and where the events are.

It takes the place of the lab's controls on the replay screen.  It draws what
it is given (`status`, `events`, `frame_time`); the keys that move playback
are the screen's (bindings in `ui/bindings.py`), and a click on the bar asks
to seek there (`Timeline.Seek`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from iofdtui.ui.replay.playback import PlaybackStatus

BAR_FILLED = "━"
BAR_EMPTY = "─"
BAR_HEAD = "●"
EVENT_MARK = "┃"


def clock_text(seconds: float) -> str:
    """Seconds as m:ss.s (h:mm:ss past an hour)."""
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        whole = int(seconds)
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def speed_text(speed: float) -> str:
    """0.25× … 8×."""
    return f"{speed:g}×"


@dataclass(frozen=True, slots=True)
class TimelineView:
    """What the timeline shows.

    Attributes:
        status: the playback's position, speed and extent.
        events: the times (seconds since the recording began) of frames with events.
        frame_time: the shown frame's time of day, as text ("" when unknown).
    """

    status: PlaybackStatus
    events: tuple[float, ...] = ()
    frame_time: str = ""


def status_line(view: TimelineView) -> Content:
    """The first line: play state, speed, position / length, frame, time of day, live."""
    st = view.status
    state = ("▶ playing", "bold $success") if st.playing else ("‖ paused", "bold $warning")
    parts: list[str | tuple[str, str]] = [state, f" {speed_text(st.speed)}  "]
    length = st.end - st.start
    parts.append((f"{clock_text(st.position - st.start)} / {clock_text(length)}", "bold"))
    parts.append(f" · frame {st.frame + 1:,} of {st.frames:,}")
    if view.frame_time:
        parts.append(f" · {view.frame_time}")
    if st.behind_s is not None:
        if st.behind_s <= 0:
            parts.append((" · ● LIVE", "bold $error"))
        else:
            parts.append((f" · behind by {st.behind_s:,.1f} s", "bold $warning"))
    return Content.assemble(*parts)


def bar_line(view: TimelineView, width: int) -> Content:
    """The second line: the bar, filled up to the position, with a mark at each event."""
    if width < 3:
        return Content("")
    st = view.status
    length = st.end - st.start
    cells = width
    head = 0 if length <= 0 else round((st.position - st.start) / length * (cells - 1))
    marks = set()
    for at in view.events:
        if length > 0:
            marks.add(round((at - st.start) / length * (cells - 1)))
    parts: list[tuple[str, str]] = []
    for x in range(cells):
        if x == head:
            parts.append((BAR_HEAD, "bold $accent"))
        elif x in marks:
            parts.append((EVENT_MARK, "$warning"))
        elif x < head:
            parts.append((BAR_FILLED, "$accent"))
        else:
            parts.append((BAR_EMPTY, "$text-muted"))
    return Content.assemble(*parts)


class Timeline(Widget):
    """Play state, speed, position / length and the bar with the recording's events."""

    DEFAULT_CSS = """
    Timeline {
        height: 2;
        background: $panel;
        padding: 0 1;
    }
    """

    view: reactive[TimelineView | None] = reactive(None)
    """What to draw; None before the first frame is shown."""

    waiting: reactive[str] = reactive("waiting for the first frame…")
    """What to say before the first frame."""

    class Seek(Message):
        """The user clicked the bar: seek to this fraction of the recording."""

        def __init__(self, fraction: float) -> None:
            super().__init__()
            self.fraction = fraction
            """Where, from 0 (the first frame) to 1 (the newest)."""

    def render(self) -> Content:
        """Two lines: the status, then the bar at the widget's width."""
        view = self.view
        if view is None:
            return Content.assemble(("‖ ", "bold"), self.waiting)
        width = self.content_size.width
        return Content("\n").join([status_line(view), bar_line(view, width)])

    def on_click(self, event: events.Click) -> None:
        """A click on the bar (the second line) seeks there."""
        width = self.content_size.width
        offset = event.get_content_offset(self)
        if offset is None or offset.y != 1 or width < 3 or self.view is None:
            return
        self.post_message(self.Seek(min(max(offset.x / (width - 1), 0.0), 1.0)))
