"""What a `LineTable` shows, as plain data: its columns and their widths, its
rows in order, and what changed when new rows come (no Textual here)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from rich.text import Text

from iofdtui.ui.widgets.table_lines import Column, Key, Row, cell, cell_width, header_cells

Group: TypeAlias = Hashable
"""What rows sharing their shared columns' cells have in common (a table's choice)."""


@dataclass(frozen=True)
class RowsChange:
    """What `TableRows.replace` changed."""

    kind: Literal["none", "cells", "order", "rows"]
    """`none`; `cells`: same rows, same order, some cells changed; `order`: the
    same rows in another order; `rows`: rows came or went."""
    changed: list[Key] = field(default_factory=list)
    """For `cells`: the rows whose own cells (or group) changed."""
    groups: set[Group] = field(default_factory=set)
    """For `cells`: the groups whose shared cells changed (every row in them did)."""
    widened: bool = False
    """A column widened (every line moves)."""
    only_went: bool = False
    """For `rows`: rows went and none came (a removal, or a narrower filter)."""


class TableRows:
    """Columns and rows by key; columns widen to fit their cells and never narrow.

    A table may name *shared* columns (consecutive): their cells are not a
    row's own but its group's, given once per group.  A change there is one
    change, however many rows show it, so a reading that moves a figure
    shown on 1,000 rows costs only the rows in view.

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
        """Each row's own cell strings (every column but the shared ones), by key."""
        self.group_of: dict[str, Group] = {}
        """Each row's group, by key (tables with shared columns)."""
        self.shared: dict[Group, tuple[str, ...]] = {}
        """Each group's cells in the shared columns."""
        self.shared_at: int | None = None
        """The first shared column's index (None: no shared columns)."""
        self._shared_count = 0
        self._measured: dict[str, tuple[str, ...]] = {}
        self._measured_shared: dict[Group, tuple[str, ...]] = {}

    def set_columns(
        self, columns: Sequence[tuple[str, str]], left: frozenset[str], shared: Sequence[str] = ()
    ) -> None:
        """These columns (key, header), as wide as their headers; no rows.

        `shared`: the keys of the consecutive columns whose cells each row
        takes from its group."""
        self.columns = {
            key: Column(key, cell(label, key in left), cell_width(label), key in left)
            for key, label in columns
        }
        keys = [key for key, _ in columns]
        self.shared_at = keys.index(shared[0]) if shared else None
        self._shared_count = len(shared)
        if shared and keys[self.shared_at : self.shared_at + len(shared)] != list(shared):
            raise ValueError(f"shared columns {shared} must be consecutive columns of {keys}")
        self.clear()

    def clear(self) -> None:
        """No rows."""
        self.keys, self.index, self.cells = [], {}, {}
        self.group_of, self.shared = {}, {}
        self._measured.clear()
        self._measured_shared.clear()

    def row_cells(self, key: str) -> tuple[str, ...]:
        """A row's cell strings in column order, shared ones included."""
        own, at = self.cells[key], self.shared_at
        if at is None:
            return own
        return own[:at] + self.shared[self.group_of[key]] + own[at:]

    def _own_columns(self) -> list[Column]:
        """The columns of a row's own cells, in order."""
        columns, at = list(self.columns.values()), self.shared_at
        if at is None:
            return columns
        return columns[:at] + columns[at + self._shared_count :]

    def reset_widths(self) -> None:
        """Each column as wide as its header and the cells shown now, no wider."""
        for column, label in zip(
            self.columns.values(), header_cells(list(self.columns.values())), strict=True
        ):
            column.content_width = cell_width(label)
        self._measured, self._measured_shared = {}, {}
        self._measure(self.keys)
        self._measure_shared(self.shared)

    def replace(
        self,
        rows: Mapping[str, tuple[str, ...]],
        groups: Mapping[str, Group] | None = None,
        shared: Mapping[Group, tuple[str, ...]] | None = None,
    ) -> RowsChange:
        """Hold exactly these rows (key -> own cell strings), in this order;
        with shared columns, each row's group and each group's cells too."""
        if self.shared_at is not None and (groups is None or shared is None):
            raise ValueError("a table with shared columns needs each row's group and their cells")
        changed_groups = self._set_shared(shared, whole=True)
        widened = self._measure_shared(changed_groups)
        if list(rows) == self.keys:
            old_groups = self.group_of
            changed = [
                key
                for key in self.keys
                if ((new := rows[key]) is not (old := self.cells[key]) and new != old)
                or (
                    groups is not None
                    and (g := groups[key]) is not old_groups[key]
                    and g != old_groups[key]
                )
            ]
            if not changed and not changed_groups:
                return RowsChange("none")
            for key in changed:
                self.cells[key] = rows[key]
                if groups is not None:
                    old_groups[key] = groups[key]
            widened = self._measure(changed) or widened
            return RowsChange("cells", changed, changed_groups, widened)
        order = list(rows)
        all_shown = all(key in self.index for key in order)
        same_set = all_shown and len(order) == len(self.keys)
        self.keys = order
        self.index = {key: i for i, key in enumerate(order)}
        self.cells = {key: rows[key] for key in order}
        self.group_of = {key: groups[key] for key in order} if groups is not None else {}
        if len(self._measured) > 2 * len(order) + 256:
            self._measured = {key: row for key, row in self._measured.items() if key in self.index}
        kind = "order" if same_set else "rows"
        widened = self._measure(order) or widened
        return RowsChange(kind, [], set(), widened, only_went=all_shown and not same_set)

    def update(
        self,
        rows: Mapping[str, tuple[str, ...]],
        groups: Mapping[str, Group] | None = None,
        shared: Mapping[Group, tuple[str, ...]] | None = None,
    ) -> RowsChange:
        """Change these rows' own cells (and groups) and these groups' shared
        cells; every other row stays as it is, in its place.  The work is the
        rows named, not the table: for a reading that changed a few of 1,000.

        Raises KeyError for a row the table does not hold (use `replace`)."""
        if self.shared_at is not None and rows and groups is None:
            raise ValueError("a table with shared columns needs each row's group")
        changed_groups = self._set_shared(shared, whole=False)
        widened = self._measure_shared(changed_groups)
        changed = []
        for key, new in rows.items():
            old = self.cells[key]
            group_moved = groups is not None and groups[key] != self.group_of[key]
            if (new is not old and new != old) or group_moved:
                self.cells[key] = new
                if groups is not None:
                    self.group_of[key] = groups[key]
                changed.append(key)
        if not changed and not changed_groups:
            return RowsChange("none")
        widened = self._measure(changed) or widened
        return RowsChange("cells", changed, changed_groups, widened)

    def _set_shared(
        self, shared: Mapping[Group, tuple[str, ...]] | None, whole: bool
    ) -> set[Group]:
        """Take these groups' shared cells (`whole`: they are every group now);
        the groups whose cells changed."""
        if shared is None:
            return set()
        old = self.shared
        changed = {
            g for g, cells in shared.items() if (was := old.get(g)) is not cells and was != cells
        }
        self.shared = dict(shared) if whole else {**old, **shared}
        return changed

    def _measure(self, keys: Sequence[str]) -> bool:
        """Widen the columns for these rows' own cells; whether any column widened."""
        columns = self._own_columns()
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

    def _measure_shared(self, groups: Iterable[Group]) -> bool:
        """Widen the shared columns for these groups' cells; whether any widened."""
        at = self.shared_at
        if at is None:
            return False
        columns = list(self.columns.values())[at : at + self._shared_count]
        widened = False
        for group in groups:
            row = self.shared[group]
            if self._measured_shared.get(group) is row:
                continue
            self._measured_shared[group] = row
            for column, value in zip(columns, row, strict=True):
                if (width := cell_width(value)) > column.content_width:
                    column.content_width = width
                    widened = True
        return widened

    @property
    def width(self) -> int:
        """Cells across every column."""
        return sum(column.content_width for column in self.columns.values())

    # ------------------------------------------------------------------ reading

    def ordered_rows(self) -> list[Row]:
        """The rows in display order."""
        return [Row(key, self.row_cells(key)) for key in self.keys]

    def row(self, row_key: str) -> list[Text]:
        """A row's cells as shown (leading space and alignment included)."""
        columns = self.columns.values()
        cells = self.row_cells(row_key)
        return [cell(value, column.left) for value, column in zip(cells, columns, strict=True)]

    def column(self, column_key: str) -> Iterator[Text]:
        """A column's cells, in row order."""
        index = list(self.columns).index(column_key)
        left = self.columns[column_key].left
        for key in self.keys:
            yield cell(self.row_cells(key)[index], left)
