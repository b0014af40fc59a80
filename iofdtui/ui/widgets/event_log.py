"""The event log: every add, removal, rejection, pause, resume and reset, timed."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime

from textual.content import Content
from textual.widgets import OptionList

_SEVERITY = {"information": "$foreground", "warning": "$warning", "error": "$error"}
MAX_ENTRIES = 1000
"""Entries kept (and shown): the oldest go first."""


class EventLog(OptionList):
    """A timestamped list of what the user did and what the engine answered.

    An OptionList rather than a RichLog: it wraps each entry when it paints,
    at the width it has then, so what is shown never depends on when an
    entry was written relative to the first layout.
    """

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    can_focus = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: deque[str] = deque(maxlen=MAX_ENTRIES)
        """Plain text of the entries shown, oldest first (tests and exports read it)."""

    def on_mount(self) -> None:
        """Keep the newest entry in view.

        Anchored, every layout scrolls to the bottom once the new entry's
        height is known; `scroll_end` alone can land a line short when it runs
        before the entry is measured.
        """
        self.anchor()

    def record(self, when: datetime, text: str, severity: str = "information") -> None:
        """Append one entry with its time of day, and keep the newest in view (even
        after the user scrolled up: `scroll_end` anchors the log again)."""
        stamp = when.strftime("%H:%M:%S")
        self.entries.append(f"{stamp} {text}")
        # The severity stays a theme variable, resolved when the line is drawn,
        # so a theme switch recolours the entries already shown.
        style = _SEVERITY.get(severity, "$foreground")
        self.add_option(Content.assemble((stamp, "dim"), " ", (text, style)))
        if self.option_count > MAX_ENTRIES:
            self.remove_option_at_index(0)
        self.scroll_end(animate=False)

    def record_many(self, items: Sequence[tuple[datetime, str, str]]) -> None:
        """Append (time, text, severity) entries at once, keeping the newest in view.

        The list is laid out once for the lot: `record` lays out every entry
        kept, each time, so a replayed frame with 20,000 events froze the screen.
        """
        items = list(items)[-MAX_ENTRIES:]
        if not items:
            return
        new = []
        for when, text, severity in items:
            stamp = when.strftime("%H:%M:%S")
            self.entries.append(f"{stamp} {text}")
            style = _SEVERITY.get(severity, "$foreground")
            new.append(Content.assemble((stamp, "dim"), " ", (text, style)))
        overflow = self.option_count + len(new) - MAX_ENTRIES
        if overflow > 0:
            kept = [self.get_option_at_index(i).prompt for i in range(overflow, self.option_count)]
            self.clear_options()
            new = [*kept, *new]
        self.add_options(new)
        self.scroll_end(animate=False)
