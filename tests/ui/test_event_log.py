"""The event log: colours follow the theme, and it keeps at most MAX_ENTRIES entries."""

from __future__ import annotations

from datetime import datetime

from textual.app import App, ComposeResult
from textual.color import Color

from iofdtui.ui.widgets.event_log import MAX_ENTRIES, EventLog

WHEN = datetime(2026, 1, 1, 12, 0, 0)


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield EventLog(id="log")


def _text_colour(log: EventLog, text: str) -> Color | None:
    """The foreground colour of `text` where the log draws it."""
    for y in range(log.size.height):
        for segment in log.render_line(y):
            if text in segment.text and segment.style and segment.style.color:
                return Color.from_rich_color(segment.style.color)
    return None


async def test_a_theme_switch_recolours_the_entries_already_shown() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(EventLog)
        log.record(WHEN, "it broke", "error")
        await pilot.pause()
        before = _text_colour(log, "it broke")
        assert before == Color.parse(app.theme_variables["error"])
        app.theme = "nord"  # an error colour of its own
        await pilot.pause()
        after = _text_colour(log, "it broke")
        assert after == Color.parse(app.theme_variables["error"])
        assert after != before


async def test_the_log_keeps_the_newest_entries_only() -> None:
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(EventLog)
        for i in range(MAX_ENTRIES + 5):
            log.record(WHEN, f"entry {i}")
        await pilot.pause()
        assert len(log.entries) == log.option_count == MAX_ENTRIES
        assert log.entries[0] == "12:00:00 entry 5"


async def test_many_entries_at_once_are_laid_out_a_few_times_and_keep_the_newest() -> None:
    # A replayed frame may carry thousands of events: one at a time, each laid
    # out every entry kept, and 20,000 froze the replay for minutes.
    app = LogApp()
    async with app.run_test(size=(60, 10)) as pilot:
        log = app.query_one(EventLog)
        log.record(WHEN, "before")
        await pilot.pause()
        layouts = 0
        original = log._update_lines

        def counted() -> None:
            nonlocal layouts
            layouts += 1
            original()

        log._update_lines = counted  # type: ignore[method-assign]
        log.record_many([(WHEN, f"entry {i}", "warning") for i in range(3 * MAX_ENTRIES)])
        await pilot.pause()
        assert len(log.entries) == log.option_count == MAX_ENTRIES
        assert log.entries[0] == f"12:00:00 entry {2 * MAX_ENTRIES}"
        assert log.entries[-1] == f"12:00:00 entry {3 * MAX_ENTRIES - 1}"
        assert layouts < 100  # one at a time: one or more per entry, thousands
        log.record_many([(WHEN, "after", "error")])
        await pilot.pause()
        assert log.entries[-1] == "12:00:00 after" and log.option_count == MAX_ENTRIES
