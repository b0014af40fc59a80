"""The event log: every add, removal, rejection, pause, resume and reset, timed."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import RichLog

_SEVERITY = {"information": "foreground", "warning": "warning", "error": "error"}


class EventLog(RichLog):
    """A timestamped list of what the user did and what the engine answered."""

    DEFAULT_CSS = """
    EventLog {
        height: 1fr;
        overflow-x: hidden;
        scrollbar-size-vertical: 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, wrap=True, markup=False, max_lines=1000, min_width=20)
        self.entries: list[str] = []
        """Plain text of every entry, oldest first (tests and exports read it)."""

    def record(self, when: datetime, text: str, severity: str = "information") -> None:
        """Append one entry with its time of day."""
        stamp = when.strftime("%H:%M:%S")
        # RichLog renders Rich text, which cannot read $variables: resolve the theme colour.
        colour = self.app.theme_variables.get(_SEVERITY.get(severity, "foreground"), "")
        line = Text.assemble((stamp, "dim"), " ", (text, colour))
        self.entries.append(f"{stamp} {text}")
        self.write(line)
