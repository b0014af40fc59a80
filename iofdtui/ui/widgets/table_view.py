"""The view of a `LineTable` on Textual's Line API: only the rows in view cost anything.

`TableView` is a `ScrollView`: `render_line(y)` renders the one row at line
`y` (the header stays on the first line), and an `LRUCache` keeps each
row's strip keyed by what it shows (its cells' text, its place, cursor and
hover, the column widths, the width and sideways scroll), so a repaint
renders only rows whose look changed.  The styles come from the component
classes (`table--header`, `table--cursor`, ...) and are read once a paint;
when they change (a theme switch, focus, CSS) the cached strips go.

Rows are keyed by strings and shown with `set_rows`, which touches only the
rows whose cells changed; the cursor follows its row's key.  Its messages
and look are those of Textual's `DataTable` with `cell_padding=0` and
one-line cells, which this table replaces (`LineTable` adds the keys and
the mouse).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar, Literal

from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.reactive import Reactive, reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from iofdtui.ui.widgets import table_messages
from iofdtui.ui.widgets.table_lines import (
    Column,
    Key,
    Palette,
    Row,
    header_cells,
    resolve_palette,
    row_strip,
)
from iofdtui.ui.widgets.table_rows import Group, RowsChange, TableRows

CursorType = Literal["row", "none"]


class TableView(ScrollView, can_focus=True):
    """Rows of one-line text cells under a header, rendered only where they show."""

    ALLOW_SELECT = False

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "table--header",
        "table--header-hover",
        "table--cursor",
        "table--hover",
        "table--even-row",
        "table--odd-row",
    }
    """
    | Class | Description |
    | :- | :- |
    | `table--header` | The header row. |
    | `table--header-hover` | The header under the mouse (over `table--hover`). |
    | `table--cursor` | The row under the cursor. |
    | `table--hover` | The row under the mouse. |
    | `table--even-row` | Even rows (from 0) with zebra stripes. |
    | `table--odd-row` | Odd rows with zebra stripes. |
    """

    CELL_CLASSES: ClassVar[tuple[str, ...]] = ()
    """Component classes `cell_style` may name (declare them in COMPONENT_CLASSES too)."""

    DEFAULT_CSS = """
    TableView {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;

        &:focus {
            background-tint: $foreground 5%;
            & > .table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark {
            & > .table--even-row {
                background: $surface-darken-1 40%;
            }
        }
        & > .table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .table--header-hover {
            background: $accent 30%;
        }
        & > .table--hover {
            background: $block-hover-background;
        }
    }
    """

    cursor_row: Reactive[int] = reactive(0, repaint=False, init=False)
    """Index of the row under the cursor (0 when there are no rows)."""

    RowHighlighted = table_messages.RowHighlighted
    RowSelected = table_messages.RowSelected
    HeaderSelected = table_messages.HeaderSelected

    def __init__(
        self,
        *,
        cursor_type: CursorType = "row",
        zebra_stripes: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.cursor_type: CursorType = cursor_type
        """`row`: a cursor row that the keys and the mouse move; `none`: keys scroll."""
        self.zebra_stripes = zebra_stripes
        """Alternate rows styled `table--even-row` and `table--odd-row`."""
        self._rows = TableRows()
        self._table_layout = 0  # bumped when the columns or their widths change
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._palette: Palette | None = None
        # What the styles depend on: pseudo-classes (focus, dark, ansi...),
        # the theme, and a count of CSS updates.
        self._palette_state: tuple[object, ...] = ()
        self._css_updates = 0
        self._hover_row = 0
        self._show_hover = False
        # Rows were replaced: the layout has yet to catch up with the new
        # virtual size, so the cursor is scrolled into view after the refresh.
        self._settling = False

    # ------------------------------------------------------------------ reading

    @property
    def columns(self) -> dict[Key, Column]:
        """The columns in display order, by key."""
        return self._rows.columns

    @property
    def row_count(self) -> int:
        """The number of rows shown."""
        return len(self._rows.keys)

    @property
    def cursor_key(self) -> Key | None:
        """Key of the row under the cursor, if any."""
        keys = self._rows.keys
        return keys[self.cursor_row] if keys else None

    @property
    def ordered_columns(self) -> list[Column]:
        """The columns in display order."""
        return list(self._rows.columns.values())

    @property
    def ordered_rows(self) -> list[Row]:
        """The rows in display order (built on each call: O(rows))."""
        return self._rows.ordered_rows()

    @property
    def rows(self) -> dict[Key, Row]:
        """The rows by key, in display order (built on each call: O(rows))."""
        return {row.key: row for row in self._rows.ordered_rows()}

    def get_row_index(self, row_key: str) -> int:
        """Index of a row, by key."""
        return self._rows.index[row_key]

    def get_row(self, row_key: str) -> list[Text]:
        """A row's cells as shown (leading space and alignment included)."""
        return self._rows.row(row_key)

    def get_row_at(self, row_index: int) -> list[Text]:
        """The cells of the row at an index."""
        return self._rows.row(self._rows.keys[row_index])

    def get_cell(self, row_key: str, column_key: str) -> Text:
        """One cell as shown, by row and column key."""
        return self._rows.row(row_key)[list(self._rows.columns).index(column_key)]

    def get_column(self, column_key: str) -> Iterator[Text]:
        """A column's cells, in row order."""
        return self._rows.column(column_key)

    # ------------------------------------------------------------------ writing

    def set_columns(
        self,
        columns: Sequence[tuple[str, str]],
        left: frozenset[str],
        shared: Sequence[str] = (),
    ) -> None:
        """Show these columns (key, header), emptying the table: set the rows next.

        `shared`: consecutive columns whose cells each row takes from its
        group (`set_rows`' `groups` and `shared`)."""
        self._rows.set_columns(columns, left, shared)
        self.clear()

    def clear(self) -> None:
        """Remove every row: the cursor and the scroll go back to the top."""
        self._rows.clear()
        self._relaid()
        self._scroll_home()
        self.cursor_row = 0

    def reset_widths(self) -> None:
        """Size every column to its header and the cells shown now (after a change of format)."""
        self._rows.reset_widths()
        self._relaid()

    def set_rows(
        self,
        rows: Mapping[str, tuple[str, ...]],
        groups: Mapping[str, Group] | None = None,
        shared: Mapping[Group, tuple[str, ...]] | None = None,
    ) -> None:
        """Show exactly these rows (key -> cell strings), in this order.

        With shared columns, `rows` holds each row's own cells, `groups` each
        row's group and `shared` each group's cells in the shared columns: a
        group's change repaints the rows of that group in view, no others.

        The same rows in the same order: only rows whose cells changed are
        repainted, and only if in view.  The same rows in another order (a
        sort): the cursor stays on its row's key.  Rows went, the cursor's
        among them, and none came (a removal): the view stays, the cursor
        keeps its index (clamped to the last row), so it lands on the row
        that followed.  Other rows (a filter): the view goes back to the top,
        the cursor stays on its row's key if that row is still shown, else
        goes to the first row.
        """
        selected = self.cursor_key
        change = self._rows.replace(rows, groups, shared)
        if change.kind == "none":
            return
        if change.widened or change.kind != "cells":
            self._relaid()
        if change.kind == "cells":
            self._repaint_changed(change)
            return
        index = self._rows.index
        # The cursor's row went and none came (a removal): the cursor stays
        # where it was, on the row that followed (or the new last row), and
        # so does the view, as in any list.
        stay = change.only_went and selected is not None and selected not in index
        if change.kind == "rows" and not stay:
            self._scroll_home()
            self._hover_row = 0
        self._settling = True
        if stay:
            row = min(self.cursor_row, len(self._rows.keys) - 1)
        else:
            row = index.get(selected, 0) if selected is not None else 0
        if row != self.cursor_row:
            self.cursor_row = row  # the watcher highlights and scrolls
        else:
            self._highlight()
            self._scroll_cursor_into_view()

    def update_rows(
        self,
        rows: Mapping[str, tuple[str, ...]],
        groups: Mapping[str, Group] | None = None,
        shared: Mapping[Group, tuple[str, ...]] | None = None,
    ) -> None:
        """Change only these rows (and groups' shared cells), all already shown:
        the rest keep their cells and places, and nothing else is compared."""
        change = self._rows.update(rows, groups, shared)
        if change.kind == "none":
            return
        if change.widened:
            self._relaid()
        self._repaint_changed(change)

    def _repaint_changed(self, change: RowsChange) -> None:
        """Repaint the rows in view whose cells or group's cells changed."""
        if change.widened:
            return  # relaid: everything repaints
        top, height = self._rows_in_view()
        index = self._rows.index
        for key in change.changed:
            if top <= (row := index[key]) < top + height:
                self.refresh_line(row + 1)
        if change.groups:
            keys, group_of = self._rows.keys, self._rows.group_of
            for row in range(top, min(top + height, len(keys))):
                if group_of[keys[row]] in change.groups:
                    self.refresh_line(row + 1)

    def _relaid(self) -> None:
        """Rows or widths changed: a new layout key, the new size, everything repainted."""
        self._table_layout += 1
        self.virtual_size = Size(self._rows.width, len(self._rows.keys) + 1)
        self.refresh()

    def _scroll_home(self) -> None:
        """Back to the top left at once (no animation, no waiting for a refresh)."""
        self.scroll_x = self.scroll_y = 0
        self.scroll_target_x = self.scroll_target_y = 0

    # ------------------------------------------------------------------ cursor

    def validate_cursor_row(self, row: int) -> int:
        """Keep the cursor on a row."""
        return max(0, min(row, len(self._rows.keys) - 1))

    def watch_cursor_row(self, old: int, new: int) -> None:
        """Repaint both rows, say which row is highlighted, and bring it into view."""
        self._refresh_row(old)
        self._highlight()
        self._scroll_cursor_into_view()

    def move_cursor(
        self, *, row: int | None = None, animate: bool = False, scroll: bool = True
    ) -> None:
        """Move the cursor to a row (and scroll it into view)."""
        if scroll:
            self._scroll_cursor_into_view(animate=animate, row=row)
        if row is not None:
            self.cursor_row = row

    def _highlight(self) -> None:
        self._refresh_row(self.cursor_row)
        key = self.cursor_key
        if key is not None and self.cursor_type == "row":
            self.post_message(self.RowHighlighted(self, self.cursor_row, key))

    def _scroll_cursor_into_view(self, animate: bool = False, row: int | None = None) -> None:
        if self.cursor_type != "row":
            return
        if self._settling:
            self.call_after_refresh(self._scroll_after_refresh, animate)
            return
        row = self.cursor_row if row is None else self.validate_cursor_row(row)
        width = max(self.size.width, self.virtual_size.width)
        region = Region(int(self.scroll_x), row + 1, width, 1)
        self.scroll_to_region(region, animate=animate, spacing=Spacing(1, 0, 0, 0), force=True)

    def _scroll_after_refresh(self, animate: bool) -> None:
        self._settling = False
        self._scroll_cursor_into_view(animate)

    def _rows_in_view(self) -> tuple[int, int]:
        """The first row in view and how many rows the view holds."""
        return int(self.scroll_y), max(0, self.scrollable_content_region.height - 1)

    def _refresh_row(self, row: int) -> None:
        """Repaint a row (-1: the header) if it is in view."""
        if row == -1:
            self.refresh_line(int(self.scroll_y))  # the header is the view's first line
        elif 0 <= row < len(self._rows.keys):
            self.refresh_line(row + 1)

    def _set_hover(self, active: bool) -> None:
        self._show_hover = active
        self._refresh_row(self._hover_row)

    # ------------------------------------------------------------------ painting

    def cell_style(self, column_key: str, value: str) -> str | None:
        """The component class (one of CELL_CLASSES) that styles a cell, if any."""
        return None

    def notify_style_update(self) -> None:
        """CSS or theme changed: the styles are read again at the next paint."""
        super().notify_style_update()
        self._css_updates += 1
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Read the styles of this paint (when they may have changed), then render."""
        self._current_palette()
        return super().render_lines(crop)

    def _current_palette(self) -> Palette:
        """The styles as CSS gives them now; a new palette drops every cached strip."""
        state = (self.pseudo_classes, self.app.theme, self._css_updates)
        if self._palette is None or state != self._palette_state:
            self._palette_state = state
            palette = resolve_palette(self, self.CELL_CLASSES)
            if palette != self._palette:
                self._palette = palette
                self._strips.clear()
        assert self._palette is not None
        return self._palette

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: the header, or the row scrolled there."""
        width = self.size.width
        if y == 0:
            return self._render_row(-1, width)
        row = y - 1 + int(self.scroll_y)
        if row >= len(self._rows.keys):
            return Strip.blank(width, self._current_palette().base)
        return self._render_row(row, width)

    def _render_row(self, row: int, width: int) -> Strip:
        """The strip of one row, from the cache when it shows the same as last time."""
        palette = self._palette or self._current_palette()
        columns = self.ordered_columns
        cells = header_cells(columns) if row == -1 else self._rows.row_cells(self._rows.keys[row])
        row_cursor = self.cursor_type == "row"
        hover = row_cursor and self._show_hover and row == self._hover_row
        cursor = row_cursor and row == self.cursor_row and row >= 0
        scroll_x = int(self.scroll_x)
        key = (row, cells, hover, cursor, self._table_layout, width, scroll_x)
        strip = self._strips.get(key)
        if strip is None:
            strip = row_strip(
                row,
                cells,
                columns,
                palette,
                zebra=self.zebra_stripes,
                hover=hover,
                cursor=cursor,
                row_cursor=row_cursor,
                width=width,
                table_width=self._rows.width,
                scroll_x=scroll_x,
                cell_style=self.cell_style,
            )
            self._strips.set(key, strip)
        return strip
