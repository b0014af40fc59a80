"""The event log: every add, removal, rejection, pause, resume and reset, timed."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import OptionList

_SEVERITY = {"information": "foreground", "warning": "warning", "error": "error"}
MAX_ENTRIES = 1000


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
        self.entries: list[str] = []
        """Plain text of every entry, oldest first (tests and exports read it)."""

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
        # Rich text cannot read $variables: resolve the theme colour here.
        colour = self.app.theme_variables.get(_SEVERITY.get(severity, "foreground"), "")
        self.entries.append(f"{stamp} {text}")
        self.add_option(Text.assemble((stamp, "dim"), " ", (text, colour)))
        if self.option_count > MAX_ENTRIES:
            self.remove_option_at_index(0)
        self.scroll_end(animate=False)
