"""What a `LineTable` shows, as plain data: its columns and their widths, its
rows in order, and what changed when new rows come (no Textual here)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rich.text import Text

from iofdtui.ui.widgets.table_lines import Column, Key, Row, cell, cell_width, header_cells


@dataclass(frozen=True)
class RowsChange:
    """What `TableRows.replace` changed."""

    kind: Literal["none", "cells", "order", "rows"]
    """`none`; `cells`: same rows, same order, some cells changed; `order`: the
    same rows in another order; `rows`: rows came or went."""
    changed: list[Key] = field(default_factory=list)
    """For `cells`: the rows whose cells changed."""
    widened: bool = False
    """A column widened (every line moves)."""
    only_went: bool = False
    """For `rows`: rows went and none came (a removal, or a narrower filter)."""


class TableRows:
    """Columns and rows by key; columns widen to fit their cells and never narrow.

    The last cells measured for each key are kept, shown or not, so a row
    shown again unchanged (after a filter) is not measured again.
    """

    def __init__(self) -> None:
        self.columns: dict[Key, Column] = {}
        """The columns in display order, by key."""
        self.keys: list[Key] = []
        """The row keys in display order."""
        self.index: dict[str, int] = {}
        """Each row's place, by key."""
        self.cells: dict[str, tuple[str, ...]] = {}
        """Each row's cell strings, by key."""
        self._measured: dict[str, tuple[str, ...]] = {}

    def set_columns(self, columns: Sequence[tuple[str, str]], left: frozenset[str]) -> None:
        """These columns (key, header), as wide as their headers; no rows."""
        self.columns = {
            key: Column(key, cell(label, key in left), cell_width(label), key in left)
            for key, label in columns
        }
        self.clear()

    def clear(self) -> None:
        """No rows."""
        self.keys, self.index, self.cells = [], {}, {}
        self._measured.clear()

    def reset_widths(self) -> None:
        """Each column as wide as its header and the cells shown now, no wider."""
        widths = [cell_width(label) for label in header_cells(list(self.columns.values()))]
        for cells in self.cells.values():
            for i, value in enumerate(cells):
                if (w := cell_width(value)) > widths[i]:
                    widths[i] = w
        for column, width in zip(self.columns.values(), widths, strict=True):
            column.content_width = width
        self._measured = dict(self.cells)

    def replace(self, rows: Mapping[str, tuple[str, ...]]) -> RowsChange:
        """Hold exactly these rows (key -> cell strings), in this order."""
        if list(rows) == self.keys:
            changed = [
                key
                for key in self.keys
                if (new := rows[key]) is not (old := self.cells[key]) and new != old
            ]
            if not changed:
                return RowsChange("none")
            for key in changed:
                self.cells[key] = rows[key]
            return RowsChange("cells", changed, self._measure(changed))
        order = list(rows)
        all_shown = all(key in self.index for key in order)
        same_set = all_shown and len(order) == len(self.keys)
        self.keys = order
        self.index = {key: i for i, key in enumerate(order)}
        self.cells = {key: rows[key] for key in order}
        if len(self._measured) > 2 * len(order) + 256:
            self._measured = {key: row for key, row in self._measured.items() if key in self.index}
        kind = "order" if same_set else "rows"
        return RowsChange(kind, [], self._measure(order), only_went=all_shown and not same_set)

    def _measure(self, keys: Sequence[str]) -> bool:
        """Widen the columns for these rows' cells; whether any column widened."""
        columns = list(self.columns.values())
        measured, cells = self._measured, self.cells
        widened = False
        for key in keys:
            row = cells[key]
            before = measured.get(key)
            if row is before:
                continue
            measured[key] = row
            for i, value in enumerate(row):
                if before is not None and before[i] == value:
                    continue  # measured already: columns only widen
                if (width := cell_width(value)) > columns[i].content_width:
                    columns[i].content_width = width
                    widened = True
        return widened

    @property
    def width(self) -> int:
        """Cells across every column."""
        return sum(column.content_width for column in self.columns.values())

    # ------------------------------------------------------------------ reading

    def ordered_rows(self) -> list[Row]:
        """The rows in display order."""
        return [Row(key, self.cells[key]) for key in self.keys]

    def row(self, row_key: str) -> list[Text]:
        """A row's cells as shown (leading space and alignment included)."""
        columns = self.columns.values()
        cells = self.cells[row_key]
        return [cell(value, column.left) for value, column in zip(cells, columns, strict=True)]

    def column(self, column_key: str) -> Iterator[Text]:
        """A column's cells, in row order."""
        index = list(self.columns).index(column_key)
        left = self.columns[column_key].left
        for key in self.keys:
            yield cell(self.cells[key][index], left)
