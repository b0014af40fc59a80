"""A table of one-line rows on Textual's Line API: only the rows in view cost anything.

`LineTable` is a `ScrollView`: `render_line(y)` renders the one row at line
`y` (the header stays on the first line), and an `LRUCache` keeps each
row's strip keyed by what it shows (its cells' text, its place, cursor and
hover, the column widths, the width and sideways scroll), so a repaint
renders only rows whose look changed.  The styles come from the component
classes (`table--header`, `table--cursor`, ...) and are read once a paint;
when they change (a theme switch, focus, CSS) the cached strips go.

Rows are keyed by strings and shown with `set_rows`, which touches only the
rows whose cells changed; the cursor follows its row's key.  Its messages,
keys, mouse handling and look are those of Textual's `DataTable` with
`cell_padding=0` and one-line cells, which this table replaces.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar, Literal

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.reactive import Reactive, reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from iofdtui.ui.widgets.table_lines import (
    Column,
    Key,
    Palette,
    Row,
    cell,
    cell_width,
    header_cells,
    resolve_palette,
    row_strip,
)

CursorType = Literal["row", "none"]


class LineTable(ScrollView, can_focus=True):
    """Rows of one-line text cells under a header, rendered only where they show."""

    ALLOW_SELECT = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("ctrl+home", "scroll_top", "Top", show=False),
        Binding("ctrl+end", "scroll_bottom", "Bottom", show=False),
        Binding("home", "scroll_home", "Home", show=False),
        Binding("end", "scroll_end", "End", show=False),
    ]
    """
    | Key(s) | Description |
    | :- | :- |
    | enter | Select the row under the cursor. |
    | up, down | Move the cursor (or scroll, without one). |
    | left, right | Scroll sideways. |
    | pageup, pagedown | Move one page. |
    | ctrl+home, ctrl+end | Move to the first or last row. |
    | home, end | Scroll to the left or right edge. |
    """

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
    LineTable {
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
        & > .table--odd-row {
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

    class RowHighlighted(Message):
        """The cursor moved to a row (or the rows under it were replaced)."""

        def __init__(self, table: LineTable, cursor_row: int, row_key: Key) -> None:
            self.table = table
            """The table whose cursor moved."""
            self.cursor_row = cursor_row
            """Index of the highlighted row."""
            self.row_key = row_key
            """Key of the highlighted row."""
            super().__init__()

        @property
        def control(self) -> LineTable:
            """The table (what `@on(..., selector)` matches)."""
            return self.table

    class RowSelected(Message):
        """Enter on a row, or a click on the row already under the cursor."""

        def __init__(self, table: LineTable, cursor_row: int, row_key: Key) -> None:
            self.table = table
            """The table the row is in."""
            self.cursor_row = cursor_row
            """Index of the selected row."""
            self.row_key = row_key
            """Key of the selected row."""
            super().__init__()

        @property
        def control(self) -> LineTable:
            """The table (what `@on(..., selector)` matches)."""
            return self.table

    class HeaderSelected(Message):
        """A click on a column's header."""

        def __init__(
            self, table: LineTable, column_key: Key, column_index: int, label: Text
        ) -> None:
            self.table = table
            """The table whose header was clicked."""
            self.column_key = column_key
            """Key of the column."""
            self.column_index = column_index
            """Index of the column."""
            self.label = label
            """The header's text."""
            super().__init__()

        @property
        def control(self) -> LineTable:
            """The table (what `@on(..., selector)` matches)."""
            return self.table

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
        self.columns: dict[Key, Column] = {}
        """The columns in display order, by key."""
        self._keys: list[Key] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, tuple[str, ...]] = {}
        # The last cells measured for each key, shown or not: an unchanged row
        # shown again is not measured again (columns only widen).
        self._measured: dict[str, tuple[str, ...]] = {}
        self._layout = 0  # bumped when the columns or their widths change
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(1024)
        self._palette: Palette | None = None
        self._hover_row = 0
        self._show_hover = False
        # Rows were replaced: the layout has yet to catch up with the new
        # virtual size, so the cursor is scrolled into view after the refresh.
        self._settling = False

    # ------------------------------------------------------------------ reading

    @property
    def row_count(self) -> int:
        """The number of rows shown."""
        return len(self._keys)

    @property
    def cursor_key(self) -> Key | None:
        """Key of the row under the cursor, if any."""
        return self._keys[self.cursor_row] if self._keys else None

    @property
    def ordered_columns(self) -> list[Column]:
        """The columns in display order."""
        return list(self.columns.values())

    @property
    def ordered_rows(self) -> list[Row]:
        """The rows in display order (built on each call: O(rows))."""
        return [Row(key, self._cells[key]) for key in self._keys]

    @property
    def rows(self) -> dict[Key, Row]:
        """The rows by key, in display order (built on each call: O(rows))."""
        return {row.key: row for row in self.ordered_rows}

    def get_row_index(self, row_key: str) -> int:
        """Index of a row, by key."""
        return self._index[row_key]

    def get_row(self, row_key: str) -> list[Text]:
        """A row's cells as shown (leading space and alignment included)."""
        return self._as_text(self._cells[row_key])

    def get_row_at(self, row_index: int) -> list[Text]:
        """The cells of the row at an index."""
        return self.get_row(self._keys[row_index])

    def get_cell(self, row_key: str, column_key: str) -> Text:
        """One cell as shown, by row and column key."""
        index = list(self.columns).index(column_key)
        return self.get_row(row_key)[index]

    def get_column(self, column_key: str) -> Iterator[Text]:
        """A column's cells, in row order."""
        index = list(self.columns).index(column_key)
        left = self.columns[Key(column_key)].left
        for key in self._keys:
            yield cell(self._cells[key][index], left)

    def _as_text(self, cells: tuple[str, ...]) -> list[Text]:
        columns = self.columns.values()
        return [cell(value, column.left) for value, column in zip(cells, columns, strict=True)]

    # ------------------------------------------------------------------ writing

    def set_columns(self, columns: Sequence[tuple[str, str]], left: frozenset[str]) -> None:
        """Show these columns (key, header), emptying the table: set the rows next."""
        self.columns = {
            Key(key): Column(Key(key), cell(label, key in left), cell_width(label), key in left)
            for key, label in columns
        }
        self.clear()

    def clear(self) -> None:
        """Remove every row: the cursor and the scroll go back to the top."""
        self._keys, self._index, self._cells = [], {}, {}
        self._measured.clear()
        self._layout += 1
        self._scroll_home()
        self.cursor_row = 0
        self._update_size()
        self.refresh()

    def reset_widths(self) -> None:
        """Size every column to its header and the cells shown now (after a change of format)."""
        widths = [cell_width(label) for label in header_cells(self.ordered_columns)]
        for cells in self._cells.values():
            for i, value in enumerate(cells):
                if (w := cell_width(value)) > widths[i]:
                    widths[i] = w
        for column, width in zip(self.columns.values(), widths, strict=True):
            column.content_width = width
        self._measured = dict(self._cells)
        self._layout += 1
        self._update_size()
        self.refresh()

    def set_rows(self, rows: Mapping[str, tuple[str, ...]]) -> None:
        """Show exactly these rows (key -> cell strings), in this order.

        The same rows in the same order: only rows whose cells changed are
        repainted, and only if in view.  The same rows in another order (a
        sort): the cursor stays on its row's key.  Other rows (a filter):
        the view goes back to the top, the cursor stays on its row's key if
        that row is still shown, else goes to the first row.
        """
        if list(rows) == self._keys:
            self._update_rows(rows)
            return
        order = [Key(key) for key in rows]
        selected = self.cursor_key
        same_set = len(order) == len(self._keys) and all(key in self._index for key in order)
        self._keys = order
        self._index = {key: i for i, key in enumerate(order)}
        self._cells = {key: rows[key] for key in order}
        widened = self._measure(order)
        if widened:
            self._layout += 1
        if not same_set:
            self._scroll_home()
            self._hover_row = 0
            if len(self._measured) > 2 * len(order) + 256:
                self._measured = {key: self._measured[key] for key in order}
        self._update_size()
        self.refresh()
        self._settling = True
        row = self._index.get(selected, 0) if selected is not None else 0
        if row != self.cursor_row:
            self.cursor_row = row  # the watcher highlights and scrolls
        else:
            self._highlight()
            self._scroll_cursor_into_view()

    def _update_rows(self, rows: Mapping[str, tuple[str, ...]]) -> None:
        """The rows shown, same order: repaint only the changed ones in view."""
        cells = self._cells
        changed = [
            key
            for key in self._keys
            if (new := rows[key]) is not (old := cells[key]) and new != old
        ]
        if not changed:
            return
        for key in changed:
            cells[key] = rows[key]
        if self._measure(changed):
            self._layout += 1
            self._update_size()
            self.refresh()
            return
        top, height = self._rows_in_view()
        for key in changed:
            if top <= (row := self._index[key]) < top + height:
                self.refresh_line(row + 1)

    def _measure(self, keys: Sequence[str]) -> bool:
        """Widen the columns for these rows' cells; whether any column widened."""
        columns = list(self.columns.values())
        measured, cells = self._measured, self._cells
        widened = False
        for key in keys:
            row = cells[key]
            before = measured.get(key)
            if row is before:
                continue
            measured[key] = row
            for i, value in enumerate(row):
                if before is not None and before[i] == value:
                    continue
                if (width := cell_width(value)) > columns[i].content_width:
                    columns[i].content_width = width
                    widened = True
        return widened

    def _scroll_home(self) -> None:
        """Back to the top left at once (no animation, no waiting for a refresh)."""
        self.scroll_x = self.scroll_y = 0
        self.scroll_target_x = self.scroll_target_y = 0

    def _update_size(self) -> None:
        width = sum(column.content_width for column in self.columns.values())
        self.virtual_size = Size(width, len(self._keys) + 1)

    # ------------------------------------------------------------------ cursor

    def validate_cursor_row(self, row: int) -> int:
        """Keep the cursor on a row."""
        return max(0, min(row, len(self._keys) - 1))

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
        elif 0 <= row < len(self._keys):
            self.refresh_line(row + 1)

    def _set_hover(self, active: bool) -> None:
        self._show_hover = active
        self._refresh_row(self._hover_row)

    # ------------------------------------------------------------------ keys

    def _page_height(self) -> int:
        return self.scrollable_content_region.height - 1

    def action_page_down(self) -> None:
        """Move the cursor (and the view) one page down."""
        self._set_hover(False)
        if self.cursor_type != "row":
            super().action_page_down()
            return
        height = self._page_height()
        self.scroll_relative(y=height, animate=False, force=True)
        self.move_cursor(row=self.cursor_row + height, scroll=False)

    def action_page_up(self) -> None:
        """Move the cursor (and the view) one page up."""
        self._set_hover(False)
        if self.cursor_type != "row":
            super().action_page_up()
            return
        height = self._page_height()
        self.scroll_relative(y=-height, animate=False)
        self.move_cursor(row=self.cursor_row - height, scroll=False)

    def action_scroll_top(self) -> None:
        """The cursor to the first row."""
        self._set_hover(False)
        if self.cursor_type == "row":
            self.cursor_row = 0
        else:
            super().action_scroll_home()

    def action_scroll_bottom(self) -> None:
        """The cursor to the last row."""
        self._set_hover(False)
        if self.cursor_type == "row":
            self.cursor_row = self.row_count - 1
        else:
            super().action_scroll_end()

    def action_scroll_home(self) -> None:
        """Scroll to the left edge."""
        self._set_hover(False)
        self.scroll_x = 0

    def action_scroll_end(self) -> None:
        """Scroll to the right edge."""
        self._set_hover(False)
        self.scroll_x = self.max_scroll_x

    def action_cursor_up(self) -> None:
        """The cursor one row up (or scroll up, without a cursor)."""
        self._set_hover(False)
        if self.cursor_type == "row":
            self.cursor_row -= 1
        else:
            super().action_scroll_up()

    def action_cursor_down(self) -> None:
        """The cursor one row down (or scroll down, without a cursor)."""
        self._set_hover(False)
        if self.cursor_type == "row":
            self.cursor_row += 1
        else:
            super().action_scroll_down()

    def action_cursor_right(self) -> None:
        """Scroll right."""
        self._set_hover(False)
        super().action_scroll_right()

    def action_cursor_left(self) -> None:
        """Scroll left."""
        self._set_hover(False)
        super().action_scroll_left()

    def action_select_cursor(self) -> None:
        """Post `RowSelected` for the row under the cursor."""
        self._set_hover(False)
        self._post_selected()

    def _post_selected(self) -> None:
        key = self.cursor_key
        if key is not None and self.cursor_type == "row":
            self.post_message(self.RowSelected(self, self.cursor_row, key))

    # ------------------------------------------------------------------ mouse

    def on_mouse_move(self, event: events.MouseMove) -> None:
        """Show the hover on the row under the mouse (found from the cell's meta)."""
        self._set_hover(True)
        meta = event.style.meta
        if not meta or (self.cursor_type != "row" and meta.get("out_of_bounds", False)):
            self._set_hover(False)
            return
        if self.cursor_type == "row" and "row" in meta and meta["row"] != self._hover_row:
            old, self._hover_row = self._hover_row, meta["row"]
            self._refresh_row(old)
            self._set_hover(True)

    def on_leave(self, _: events.Leave) -> None:
        """The mouse left: no hover."""
        self._set_hover(False)

    def on_click(self, event: events.Click) -> None:
        """A header click selects the column; a row click moves the cursor (twice: selects)."""
        self._set_hover(True)
        meta = event.style.meta
        if "row" not in meta or "column" not in meta:
            return
        if self.cursor_type != "row" and meta.get("out_of_bounds", False):
            return
        row, column = meta["row"], meta["column"]
        if row == -1:
            target = self.ordered_columns[column]
            self.post_message(self.HeaderSelected(self, target.key, column, target.label))
        elif self.cursor_type == "row":
            again = row == self.cursor_row
            self.cursor_row = row
            if again:
                self._post_selected()
            self._scroll_cursor_into_view(animate=True)
            event.stop()

    # ------------------------------------------------------------------ painting

    def cell_style(self, column_key: str, value: str) -> str | None:
        """The component class (one of CELL_CLASSES) that styles a cell, if any."""
        return None

    def notify_style_update(self) -> None:
        """CSS or theme changed: read the styles again and forget every strip."""
        super().notify_style_update()
        self._palette = None
        self._strips.clear()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        """Read the styles of this paint (once), then render the lines in `crop`."""
        palette = resolve_palette(self, self.CELL_CLASSES)
        if palette != self._palette:
            self._palette = palette
            self._strips.clear()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Line `y` of the view: the header, or the row scrolled there."""
        width = self.size.width
        if y == 0:
            return self._render_row(-1, width)
        row = y - 1 + int(self.scroll_y)
        if row >= len(self._keys):
            palette = self._palette or resolve_palette(self, self.CELL_CLASSES)
            return Strip.blank(width, palette.base)
        return self._render_row(row, width)

    def _render_row(self, row: int, width: int) -> Strip:
        """The strip of one row, from the cache when it shows the same as last time."""
        palette = self._palette
        if palette is None:
            palette = self._palette = resolve_palette(self, self.CELL_CLASSES)
        columns = self.ordered_columns
        cells = header_cells(columns) if row == -1 else self._cells[self._keys[row]]
        row_cursor = self.cursor_type == "row"
        hover = row_cursor and self._show_hover and row == self._hover_row
        cursor = row_cursor and row == self.cursor_row and row >= 0
        scroll_x = int(self.scroll_x)
        key = (row, cells, hover, cursor, self._layout, width, scroll_x)
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
                scroll_x=scroll_x,
                cell_style=self.cell_style,
            )
            self._strips.set(key, strip)
        return strip
