"""The shape both tables share: counters updated cell by cell, and a compact
format (big counts shortened) when the table is under 100 columns wide.

With 1,000 rows a stock `DataTable` is slow in three places, all of which
this class takes over for its one-line text cells:

- widths: `update_cell(..., update_width=True)` measures each changed cell
  through Rich when idle and, when one got narrower, every cell of its column
  (1,000 measures per shrunk cell: seconds for one refresh), and every added
  row is measured cell by cell too.  Here widths come from the strings'
  lengths, and columns only ever widen.
- painting: every update bumps the table's update count, which is part of
  each render-cache key, so one changed cell re-renders every visible cell
  through Rich.  Here a rendered cell is kept while its text, style, place
  and width stay the same, so a refresh re-renders only the cells that
  changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

COMPACT_BELOW = 100

_CellKey = tuple[object, ...]


class CountsTable(DataTable[Text]):
    """A DataTable of counts that changes only the cells whose text changed.

    Subclasses set `COLUMNS` and `LEFT`, and their `show()` records its
    arguments in `_last` so a change of format can redraw at once.  Cells are
    one-line `Text` (see `_cell`); rows are one line high and unlabelled.
    """

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(column key, header) in display order."""

    LEFT: ClassVar[frozenset[str]] = frozenset()
    """Columns aligned left; the rest are numbers, aligned right."""

    compact: bool = False
    """Counts past a million shortened (`1.97M`): set when under 100 columns wide."""

    def __init__(self, *, id: str | None = None, cursor_type: str = "none") -> None:
        self._rendered: LRUCache[_CellKey, SegmentLines] = LRUCache(4096)
        # No cell padding: each cell carries one leading space instead, which
        # is the gap 13 columns can afford in an 80-column terminal.
        super().__init__(id=id, cursor_type=cursor_type, zebra_stripes=True, cell_padding=0)  # type: ignore[arg-type]
        self._shown: dict[str, tuple[str, ...]] = {}
        self._last: tuple[object, ...] | None = None

    def on_resize(self) -> None:
        """In a narrow table shorten big counts so every column stays in view."""
        compact = self.size.width < COMPACT_BELOW
        if compact == self.compact:
            return
        self.compact = compact
        self._before_reformat()
        self._shown = {}
        # Columns only ever widen; start them afresh for the new format.
        self.clear(columns=True)
        self._add_columns()
        if self._last is not None:
            # Redraw at once: waiting for the next snapshot would leave the
            # table empty (and a selection lost) meanwhile.
            self.show(*self._last)  # type: ignore[attr-defined]

    def _before_reformat(self) -> None:
        """Hook: remember what must survive the columns being rebuilt."""

    def on_mount(self) -> None:
        """Lay out the columns (unless a resize already has)."""
        if not self.columns:
            self._add_columns()

    def _add_columns(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(self._cell(key, label), key=key)

    def _update_cells(self, rows: dict[str, tuple[str, ...]]) -> None:
        """Same rows as shown: touch only the cells whose text changed.

        The new cells go straight into the table's data with one refresh for
        all of them (what `update_cell` does, less a refresh per cell: ~1,000
        changed cells a snapshot).  A cell that outgrows its column widens it
        at once; nothing is measured later (see `_update_dimensions`).
        """
        changed = widened = False
        columns = self.columns
        data = self._data
        for row_key, row in rows.items():
            cells = data[row_key]  # type: ignore[index]
            for (col_key, _), new, prev in zip(
                self.COLUMNS, row, self._shown[row_key], strict=True
            ):
                if new != prev:
                    cell = self._cell(col_key, new)
                    cells[col_key] = cell  # type: ignore[index]
                    changed = True
                    column = columns[col_key]  # type: ignore[index]
                    if cell.cell_len > column.content_width:
                        column.content_width = cell.cell_len
                        widened = True
        if changed:
            self._update_count += 1
            self.refresh()
        if widened:
            self._update_dimensions(())

    def _cell(self, col_key: str, value: str) -> Text:
        return Text(" " + value, justify="left" if col_key in self.LEFT else "right")

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Widen the columns for the rows added, then size the table.

        DataTable measures each new cell through Rich (some 20 µs each, 13,000
        for 1,000 rows); a one-line `Text` is as wide as its string.
        """
        columns = self.columns
        for row_key in new_rows:
            cells = self._data.get(row_key)
            if cells is None:
                continue  # removed before the table went idle
            for column_key, cell in cells.items():
                column = columns.get(column_key)
                if column is not None and cell.cell_len > column.content_width:
                    column.content_width = cell.cell_len
        super()._update_dimensions(())

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        """Render a cell, reusing the last rendering of the same text in the same place.

        DataTable's own cell cache is keyed by a count bumped on every update,
        so it never survives a refresh; this one is keyed by what the cell
        shows, and is dropped whenever DataTable drops its own caches.
        """
        if column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        column_key = self._column_locations.get_key(column_index)
        if row_index < 0:
            cell: object = self.columns[column_key].label
        else:
            cell = self._data[self._row_locations.get_key(row_index)][column_key]
        if not isinstance(cell, Text) or cell.spans:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        key = (
            cell.plain,
            cell.style,
            cell.justify,
            row_index,
            column_index,
            base_style,
            width,
            cursor,
            hover,
            self._show_hover_cursor,
            self.show_cursor,
            self._pseudo_class_state,
        )
        lines = self._rendered.get(key)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            self._rendered[key] = lines
        return lines

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._rendered.clear()

    def notify_style_update(self) -> None:
        """The theme or CSS changed: forget every rendered cell."""
        super().notify_style_update()
        self._rendered.clear()
