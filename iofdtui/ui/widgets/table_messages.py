"""What a `LineTable` tells the app: a row highlighted or selected, a header clicked.

The table carries them as `LineTable.RowHighlighted`, `LineTable.RowSelected`
and `LineTable.HeaderSelected` (so `RegistrationsTable.RowHighlighted` too),
with DataTable's attribute names (`cursor_row`, `row_key`, `column_key`).
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widget import Widget

from iofdtui.ui.widgets.table_lines import Key


class _RowMessage(Message, namespace="line_table"):
    """What both row messages carry: the table, the row's index and its key."""

    def __init__(self, table: Widget, cursor_row: int, row_key: Key) -> None:
        self.table = table
        """The table the row is in."""
        self.cursor_row = cursor_row
        """Index of the row."""
        self.row_key = row_key
        """Key of the row."""
        super().__init__()

    @property
    def control(self) -> Widget:
        """The table (what `@on(..., selector)` matches)."""
        return self.table


class RowHighlighted(_RowMessage, namespace="line_table"):
    """The cursor moved to a row (or the rows under it were replaced)."""


class RowSelected(_RowMessage, namespace="line_table"):
    """Enter on a row, or a click on the row already under the cursor."""


class HeaderSelected(Message, namespace="line_table"):
    """A click on a column's header."""

    def __init__(self, table: Widget, column_key: Key, column_index: int, label: Text) -> None:
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
    def control(self) -> Widget:
        """The table (what `@on(..., selector)` matches)."""
        return self.table
