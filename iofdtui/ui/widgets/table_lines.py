"""How a `LineTable` row becomes one line on screen: keys, columns, the styles
of one paint, and the strip of one row.

Every cell is one line of plain text shown as a leading space and the value,
left- or right-aligned in its column, and carries `row`/`column` meta in its
style so a mouse event knows which cell it hit.  The styles are those of
Textual's `DataTable` with `cell_padding=0`, so the table looks the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeAlias

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.strip import Strip
from textual.widget import Widget

Key: TypeAlias = str
"""A row or column key (a plain string)."""


@dataclass
class Column:
    """A column: its key, header label and width in cells (widened to fit, never narrowed)."""

    key: Key
    label: Text
    content_width: int
    left: bool = False
    """Aligned left; numbers (the rest) are aligned right."""

    def get_render_width(self, table: object = None) -> int:
        """Width in cells on screen (no padding: each cell has its own leading space)."""
        return self.content_width


@dataclass(frozen=True)
class Row:
    """A row as shown: its key and the strings of its cells, in column order."""

    key: Key
    cells: tuple[str, ...]


@lru_cache(maxsize=8192)
def cell_width(value: str) -> int:
    """Cells a value takes on screen, with its leading space (values repeat: cached)."""
    return cell_len(value) + 1


def cell_text(value: str, width: int, left: bool) -> str:
    """A value as its cell shows it: a leading space, aligned in `width` cells.

    The same characters Rich gives a `Text(" " + value)` with that justify
    (right-aligned text loses trailing spaces first, as Rich strips them).
    """
    text = " " + value
    if not left:
        text = text.rstrip()
    pad = width - cell_len(text)
    if pad < 0:
        return set_cell_size(text, width)
    return text + " " * pad if left else " " * pad + text


@dataclass(frozen=True)
class Palette:
    """The styles one paint uses, resolved from CSS (component classes) once a paint.

    Equal palettes render equal strips: a theme switch, a focus change or a
    CSS reload gives a new palette, and the table drops its cached strips.
    """

    base: Style
    """The widget's own style: blank lines and the filler right of the columns."""
    header: Style
    even: Style
    odd: Style
    cursor: Style
    hover: Style
    header_hover: Style
    background: Color
    """The widget's background, which the filler of a cursorless row fades towards."""
    cells: dict[str, Style] = field(default_factory=dict, compare=False, hash=False)
    """Cell styles by component class name (`LineTable.cell_style`)."""
    cells_key: tuple[tuple[str, Style], ...] = ()
    """`cells` as a tuple: what palette equality compares."""
    _overlays: dict[tuple[bool, bool, bool], tuple[Style, Style]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def row_style(self, row: int, zebra: bool) -> Style:
        """The style of a row (-1: the header) before cursor and hover."""
        if row == -1:
            return self.header
        if not zebra:
            return self.base
        return self.odd if row % 2 else self.even

    def overlay(self, header: bool, hover: bool, cursor: bool) -> tuple[Style, Style]:
        """The cursor and hover styles over a cell, and the colour that wins over the cell's.

        As DataTable: the cursor's foreground takes priority over a cell's
        own colour; its background does not.
        """
        known = self._overlays.get((header, hover, cursor))
        if known is not None:
            return known
        style = Style()
        if hover:
            style += self.hover
            if header:
                style += self.header_hover
        if cursor:
            style += self.cursor
        post = Style.from_color(color=style.color) + Style.null()
        self._overlays[header, hover, cursor] = (style, post)
        return style, post


def resolve_palette(widget: Widget, cell_classes: Sequence[str]) -> Palette:
    """Read the styles of one paint from the widget's component classes.

    Row styles are a component's whole style and the cursor and hover its
    Rich style (text opacity applied), as DataTable reads them; cell styles
    are partial (a colour and a text style over the row's).
    """

    def whole(name: str) -> Style:
        return widget.get_component_styles(name).rich_style

    overlay = widget.get_component_rich_style
    cells = {name: overlay(name, partial=True) for name in cell_classes}
    return Palette(
        base=widget.rich_style,
        header=whole("table--header"),
        even=whole("table--even-row"),
        odd=whole("table--odd-row"),
        cursor=overlay("table--cursor"),
        hover=overlay("table--hover"),
        header_hover=overlay("table--header-hover"),
        background=widget.background_colors[1],
        cells=cells,
        cells_key=tuple(cells.items()),
    )


def row_strip(
    row: int,
    cells: Sequence[str],
    columns: Sequence[Column],
    palette: Palette,
    *,
    zebra: bool,
    hover: bool,
    cursor: bool,
    row_cursor: bool,
    width: int,
    table_width: int,
    scroll_x: int,
    cell_style: Callable[[str, str], str | None],
) -> Strip:
    """The strip of one row (`row` -1: the header) at this width and sideways scroll.

    `table_width` is the columns' total width (the row's cells fill exactly it).

    `hover` and `cursor` say whether the hover or the cursor is on this row;
    `row_cursor` whether the table has a row cursor at all (its filler right of
    the columns then takes the row's cursor and hover styles).
    """
    header = row == -1
    row_style = palette.row_style(row, zebra)
    overlay, post = palette.overlay(header, hover, cursor)
    # DataTable adds a cell's meta to the row style before the overlay; meta
    # changes no colour or attribute, so adding it last gives equal styles
    # with one addition a cell.
    pre = row_style + overlay
    plain = pre + post if post else pre
    segments: list[Segment] = []
    append = segments.append
    for index, (value, column) in enumerate(zip(cells, columns, strict=False)):
        meta = _meta(row, index)
        name = None if header else cell_style(column.key, value)
        if name is not None:
            # A styled cell is aligned left with its style on its text alone,
            # the space after it in the row's style (as DataTable draws a
            # styled Text with no justify of its own).
            text = " " + value
            if cell_len(text) > column.content_width:
                text = set_cell_size(text, column.content_width)
            styled = pre + palette.cells[name]
            append(Segment(text, (styled + post if post else styled) + meta))
            pad = column.content_width - cell_len(text)
            if pad > 0:
                append(Segment(" " * pad, plain + meta))
            continue
        append(Segment(cell_text(value, column.content_width, column.left), plain + meta))
    filler = _filler(palette, row_style, overlay, row_cursor) + _out_of_bounds(row)
    append(Segment(" " * max(0, width - table_width), filler))
    # No two neighbours share a style (each carries its own cell's meta), so
    # there is nothing to simplify, as DataTable's `simplify()` finds.
    strip = Strip(segments, max(width, table_width))
    if scroll_x:
        strip = strip.crop(scroll_x, strip.cell_length)
    return strip.adjust_cell_length(width, palette.base)


@lru_cache(maxsize=4096)
def _meta(row: int, column: int) -> Style:
    """The meta of a cell: where a mouse event landed."""
    return Style.from_meta({"row": row, "column": column})


@lru_cache(maxsize=1024)
def _out_of_bounds(row: int) -> Style:
    """The meta of the space right of a row's last column."""
    return Style.from_meta({"row": row, "column": 0, "out_of_bounds": True})


def _filler(palette: Palette, row_style: Style, overlay: Style, row_cursor: bool) -> Style:
    """The style of the space right of the last column, as DataTable extends a row."""
    if row_cursor:
        return row_style + overlay
    if row_style.bgcolor is not None:
        faded = Color.from_rich_color(row_style.bgcolor).blend(palette.background, factor=0.25)
        return Style.from_color(color=row_style.color, bgcolor=faded.rich_color)
    return Style.from_color(row_style.color, row_style.bgcolor)


def header_cells(columns: Sequence[Column]) -> tuple[str, ...]:
    """The header's strings: each column's label."""
    return tuple(column.label.plain[1:] for column in columns)


def cell(value: str, left: bool) -> Text:
    """A cell as a Rich `Text` (what `get_cell` returns): leading space and alignment."""
    return Text(" " + value, justify="left" if left else "right")
