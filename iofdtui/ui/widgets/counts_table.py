"""The shape both tables share: counters updated cell by cell, and a compact
format (big counts shortened) when the table is under 100 columns wide.

With 1,000 rows a stock `DataTable` is slow in three places, all of which
this class takes over for its one-line text cells:

- widths: `update_cell(..., update_width=True)` measures each changed cell
  through Rich when idle and, when one got narrower, every cell of its column
  (1,000 measures per shrunk cell: seconds for one refresh), and every added
  row is measured cell by cell too.  Here widths come from the strings'
  lengths, and columns only ever widen.
- rows: `add_row` does per-row work (a cursor check, a refresh, an idle
  check, a measure of every cell later) that, for 1,000 rows, makes going
  back from a filtered few rows to all of them cost some 50 ms.  Here
  `_replace_rows` fills the table's row structures in one go, reusing the
  cells of rows shown before (hidden rows keep theirs), with one refresh.
- painting: every update bumps the table's update count, which is part of
  each render-cache key, so one changed cell re-renders every visible cell
  through Rich.  Here a rendered cell is kept while its text, style, place
  and width stay the same, so a refresh re-renders only the cells that
  changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text

# `_replace_rows` writes DataTable's row structures (`_data`, `rows`,
# `_row_locations`) itself, as `add_row` and `sort` do in Textual 8.2
# (pinned `textual>=8.2,<9`); tests/ui/test_registrations_filter.py checks
# the table reads them back as DataTable would.
from textual._two_way_dict import TwoWayDict
from textual._types import SegmentLines
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets._data_table import Row
from textual.widgets.data_table import ColumnKey, RowKey

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
        self._keep_rendered = False
        # No cell padding: each cell carries one leading space instead, which
        # is the gap 13 columns can afford in an 80-column terminal.
        super().__init__(id=id, cursor_type=cursor_type, zebra_stripes=True, cell_padding=0)  # type: ignore[arg-type]
        self._shown: dict[str, tuple[str, ...]] = {}
        self._last: tuple[object, ...] | None = None
        # Every row `_replace_rows` has shown, hidden ones included: its cells
        # (the very dict in `_data` while shown) and the strings they show.
        self._row_cells: dict[str, dict[ColumnKey, Text]] = {}
        self._row_text: dict[str, tuple[str, ...]] = {}

    def on_resize(self) -> None:
        """In a narrow table shorten big counts so every column stays in view."""
        compact = self.size.width < COMPACT_BELOW
        if compact == self.compact:
            return
        self.compact = compact
        self._before_reformat()
        self._shown = {}
        self._forget_rows()
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
        shown = self._shown
        for row_key, row in rows.items():
            prev_row = shown[row_key]
            if row is prev_row:
                continue  # the very cells already shown (same reading)
            cells = data[row_key]  # type: ignore[index]
            for (col_key, _), new, prev in zip(self.COLUMNS, row, prev_row, strict=True):
                if new != prev:
                    cell = self._cell(col_key, new)
                    cells[col_key] = cell  # type: ignore[index]
                    changed = True
                    column = columns[col_key]  # type: ignore[index]
                    if cell.cell_len > column.content_width:
                        column.content_width = cell.cell_len
                        widened = True
        if self._row_cells:
            # The shown rows' cell dicts are the ones `_row_cells` keeps.
            self._row_text.update(rows)
        if changed:
            self._update_count += 1
            self.refresh()
        if widened:
            self._update_dimensions(())

    def _forget_rows(self) -> None:
        """Drop the cells `_replace_rows` keeps (the format or columns changed)."""
        self._row_cells.clear()
        self._row_text.clear()

    def _prune_rows(self, keep: set[str]) -> None:
        """Forget the kept cells of rows that no longer exist at all."""
        for key in [key for key in self._row_cells if key not in keep]:
            del self._row_cells[key]
            del self._row_text[key]

    def _replace_rows(self, rows: dict[str, tuple[str, ...]], order: list[str]) -> None:
        """Show exactly these rows, in this order, in one go.

        What `clear()` and one `add_row` per row do, less the per-row work:
        the table is cleared (cursor and scroll back to the top), the rows go
        into DataTable's structures at once, and the cursor is highlighted as
        the first `add_row` would.  A row shown before reuses its cells,
        remade only where the text changed; only new cells are measured.
        """
        self._keep_rendered = True  # a rendering is keyed by what it shows
        try:
            self.clear()
        finally:
            self._keep_rendered = False
        names = [key for key, _ in self.COLUMNS]
        col_keys = [ColumnKey(key) for key in names]
        columns = self.columns
        widths = [columns[key].content_width for key in col_keys]
        cache, texts = self._row_cells, self._row_text
        data, table_rows = self._data, self.rows
        locations: dict[RowKey, int] = {}
        for index, key in enumerate(order):
            strings = rows[key]
            cells = cache.get(key)
            prev = texts.get(key)
            if cells is None or prev is None:
                cells = {}
                prev = ()
                cache[key] = cells
            if prev != strings:
                for i, new in enumerate(strings):
                    if i >= len(prev) or new != prev[i]:
                        cells[col_keys[i]] = self._cell(names[i], new)
                        width = cell_len(new) + 1  # the leading space
                        if width > widths[i]:
                            widths[i] = width
                texts[key] = strings
            row_key = RowKey(key)
            locations[row_key] = index
            data[row_key] = cells
            table_rows[row_key] = Row(row_key, 1)
        for col_key, width in zip(col_keys, widths, strict=True):
            columns[col_key].content_width = width
        self._row_locations = TwoWayDict(locations)
        self._update_count += 1
        self.check_idle()
        if order and self.columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()

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
        if not self._keep_rendered:
            self._rendered.clear()

    def notify_style_update(self) -> None:
        """The theme or CSS changed: forget every rendered cell."""
        super().notify_style_update()
        self._rendered.clear()
