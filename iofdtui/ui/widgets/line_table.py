"""A table of one-line rows: the `TableView` driven by keys and the mouse, as
Textual's `DataTable` is (same bindings, hover, clicks and messages)."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType

from iofdtui.ui.widgets.table_view import CursorType, TableView

__all__ = ["CursorType", "LineTable"]


class LineTable(TableView):
    """Rows of one-line text cells under a header; the cursor row follows keys and clicks."""

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
