"""The shape both tables share: counters updated cell by cell, and a compact
format (big counts shortened) when the table is under 100 columns wide."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import DataTable

COMPACT_BELOW = 100


class CountsTable(DataTable[Text]):
    """A DataTable of counts that changes only the cells whose text changed.

    Subclasses set `COLUMNS` and `LEFT`, and their `show()` records its
    arguments in `_last` so a change of format can redraw at once.
    """

    COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(column key, header) in display order."""

    LEFT: ClassVar[frozenset[str]] = frozenset()
    """Columns aligned left; the rest are numbers, aligned right."""

    compact: bool = False
    """Counts past a million shortened (`1.97M`): set when under 100 columns wide."""

    def __init__(self, *, id: str | None = None, cursor_type: str = "none") -> None:
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
        """Same rows as shown: touch only the cells whose text changed."""
        for row_key, row in rows.items():
            for (col_key, _), new, prev in zip(
                self.COLUMNS, row, self._shown[row_key], strict=True
            ):
                if new != prev:
                    self.update_cell(row_key, col_key, self._cell(col_key, new), update_width=True)

    def _cell(self, col_key: str, value: str) -> Text:
        return Text(" " + value, justify="left" if col_key in self.LEFT else "right")
