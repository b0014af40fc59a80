"""The shape both tables share: fixed columns of counters, zebra stripes, and a
compact format (big counts shortened) when the table is under 100 columns wide."""

from __future__ import annotations

from typing import ClassVar

from iofdtui.ui.widgets.line_table import CursorType, LineTable

COMPACT_BELOW = 100


class CountsTable(LineTable):
    """A `LineTable` of counts whose format follows its width.

    Subclasses set `COLUMNS` and `LEFT` and implement `redraw()`, which shows
    the last data again (in the format `compact` now asks for).
    """

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(column key, header) in display order."""

    LEFT: ClassVar[frozenset[str]] = frozenset()
    """Columns aligned left; the rest are numbers, aligned right."""

    SHARED: ClassVar[tuple[str, ...]] = ()
    """Consecutive columns whose cells rows take from their group (`set_rows`)."""

    REDRAW_ON_RESIZE: ClassVar[bool] = False
    """Redraw at every width (what fits depends on it), not only when the format changes."""

    compact: bool = False
    """Counts past a million shortened (`1.97M`): set when under 100 columns wide."""

    def __init__(self, *, id: str | None = None, cursor_type: CursorType = "none") -> None:
        super().__init__(id=id, cursor_type=cursor_type, zebra_stripes=True)

    def on_mount(self) -> None:
        """Lay out the columns (unless a resize already has)."""
        if not self.columns:
            self.set_columns(self.COLUMNS, self.LEFT, self.SHARED)

    def on_resize(self) -> None:
        """In a narrow table shorten big counts so every column stays in view."""
        compact = self.size.width < COMPACT_BELOW
        reformat = compact != self.compact
        self.compact = compact
        if not self.columns:
            self.set_columns(self.COLUMNS, self.LEFT, self.SHARED)
        if reformat or self.REDRAW_ON_RESIZE:
            # Redraw at once: waiting for the next snapshot would leave the
            # old format (or what no longer fits) on screen meanwhile.
            self.redraw()
        if reformat:
            self.reset_widths()  # columns only ever widen: start afresh for the new format

    def redraw(self) -> None:
        """Show the last data again (nothing before the first `show`)."""
