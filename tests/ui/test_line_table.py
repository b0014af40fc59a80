"""LineTable, the table of our own on Textual's Line API: it looks like DataTable,
renders only the rows in view, recolours on a theme switch, and keys and the
mouse drive it as they drive DataTable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widgets import DataTable

from iofdtui.ui.widgets import table_view
from iofdtui.ui.widgets.doorbells_table import DoorbellsTable
from iofdtui.ui.widgets.line_table import LineTable
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from iofdtui.ui.widgets.table_rows import TableRows

COLUMNS = (("id", "#"), ("name", "name"), ("count", "count"))
LEFT = frozenset({"name"})


def rows(n: int, bump: int = 0) -> dict[str, tuple[str, ...]]:
    """`n` rows keyed 1..n, the count of each grown by `bump`."""
    return {str(i): (str(i), f"row {i}", f"{i * 7 + bump:,}") for i in range(1, n + 1)}


class TableApp(App[None]):
    """A LineTable alone, every message it posts kept."""

    CSS = "LineTable { height: 12; }"

    def __init__(self, n: int = 1000, cursor: bool = True) -> None:
        super().__init__()
        self.n, self.cursor = n, cursor
        self.seen: list[Message] = []

    def compose(self) -> ComposeResult:
        yield LineTable(cursor_type="row" if self.cursor else "none", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(LineTable)
        table.set_columns(COLUMNS, LEFT)
        table.set_rows(rows(self.n))

    def on_line_table_row_highlighted(self, event: LineTable.RowHighlighted) -> None:
        self.seen.append(event)

    def on_line_table_row_selected(self, event: LineTable.RowSelected) -> None:
        self.seen.append(event)

    def on_line_table_header_selected(self, event: LineTable.HeaderSelected) -> None:
        self.seen.append(event)


def painted(table: LineTable | DataTable) -> list[Strip]:  # type: ignore[type-arg]
    width, height = table.size
    return table.render_lines(Region(0, 0, width, height))


def segments(strips: list[Strip]) -> list[list[tuple[str, object]]]:
    """Each line's segments, text and style (meta included: a click finds its cell)."""
    return [[(seg.text, seg.style) for seg in strip] for strip in strips]


# ------------------------------------------------------------------ the look


class BothApp(App[None]):
    """DataTable (public API, one-line Text cells, no padding) beside a LineTable."""

    CSS = "DataTable, LineTable { height: 10; }"

    def compose(self) -> ComposeResult:
        yield DataTable(zebra_stripes=True, cursor_type="row", cell_padding=0)
        yield LineTable(zebra_stripes=True)

    def on_mount(self) -> None:
        data = self.query_one(DataTable)
        line = self.query_one(LineTable)
        line.set_columns(COLUMNS, LEFT)
        shown = rows(30)
        line.set_rows(shown)

        def cell(key: str, value: str) -> Text:
            return Text(" " + value, justify="left" if key in LEFT else "right")

        for key, label in COLUMNS:
            data.add_column(cell(key, label), key=key)
        for key, row in shown.items():
            data.add_row(*(cell(k, v) for (k, _), v in zip(COLUMNS, row, strict=True)), key=key)


async def test_strips_are_datatables_blurred_focused_scrolled_and_in_another_theme() -> None:
    app = BothApp()
    async with app.run_test(size=(60, 24)) as pilot:
        data, line = app.query_one(DataTable), app.query_one(LineTable)
        await pilot.pause()

        async def same(what: str) -> None:
            await pilot.pause()
            assert segments(painted(line)) == segments(painted(data)), what

        app.set_focus(None)
        await same("blurred")
        for table in (data, line):
            table.move_cursor(row=12)
        await same("cursor moved, view scrolled")
        data.focus()
        await pilot.pause()
        focused = segments(painted(data))
        line.focus()
        await pilot.pause()
        assert segments(painted(line)) == focused, "focused"
        app.theme = "textual-light"
        app.set_focus(None)
        await same("light theme")


# ------------------------------------------------------------------ only visible rows


@pytest.fixture
def strips_made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The row index of every strip the table renders (a cache miss)."""
    made: list[int] = []
    real: Callable[..., Strip] = table_view.row_strip

    def counted(row: int, *args: object, **kwargs: object) -> Strip:
        made.append(row)
        return real(row, *args, **kwargs)

    monkeypatch.setattr(table_view, "row_strip", counted)
    return made


async def test_a_frame_renders_only_the_rows_in_view(strips_made: list[int]) -> None:
    app = TableApp(1000)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        await pilot.pause()
        in_view = table.scrollable_content_region.height - 1
        assert table.row_count == 1000 and in_view < 15
        strips_made.clear()
        table.refresh()
        painted(table)
        assert len(strips_made) == 0, "nothing changed: every line from the cache"
        table.set_rows(rows(1000, bump=1))  # every count changes, 1,000 rows
        painted(table)
        assert sorted(strips_made) == list(range(in_view)), "only the rows in view rendered"


async def test_an_update_repaints_only_the_rows_that_changed_in_view(
    strips_made: list[int],
) -> None:
    app = TableApp(1000)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        await pilot.pause()
        changed = rows(1000)
        changed["3"] = ("3", "row 3", "0")
        changed["900"] = ("900", "row 900", "0")  # out of view
        strips_made.clear()
        table.set_rows(changed)
        await pilot.pause()
        assert strips_made == [2]
        assert table.get_cell("900", "count").plain == " 0"
        # A cell wider than its column widens it: every line in view moves.
        changed["900"] = ("900", "row 900", "a wider count")
        strips_made.clear()
        table.set_rows(changed)
        await pilot.pause()
        in_view = table.scrollable_content_region.height - 1
        assert sorted(strips_made) == [-1, *range(in_view)]


async def test_scrolling_renders_the_rows_that_come_into_view(strips_made: list[int]) -> None:
    app = TableApp(1000)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        await pilot.pause()
        strips_made.clear()
        await pilot.press("pagedown")
        await pilot.pause()
        in_view = table.scrollable_content_region.height - 1
        top = int(table.scroll_y)
        assert top > 0 and set(strips_made) <= set(range(top, top + in_view)) | {-1}
        assert len([row for row in strips_made if row >= 0]) <= in_view + 2


# ------------------------------------------------------------------ themes


async def test_a_theme_switch_recolours_cached_rows_and_check_cells() -> None:
    class Doors(App[None]):
        def compose(self) -> ComposeResult:
            yield DoorbellsTable()

    app = Doors()
    async with app.run_test(size=(130, 12)) as pilot:
        table = app.query_one(DoorbellsTable)
        table.set_rows({"pio:3f8": ("pio 0x03f8", "1B←0x1", "1", "1", "0", "—", "✓", "✗ +1")})
        await pilot.pause()

        def check_colours() -> tuple[object, object]:
            line = painted(table)[1]
            ok = next(seg.style for seg in line if seg.text.strip() == "✓")
            bad = next(seg.style for seg in line if seg.text.strip() == "✗ +1")
            return ok.color.triplet.hex, bad.color.triplet.hex  # type: ignore[union-attr]

        def header_background() -> str:
            return next(iter(painted(table)[0])).style.bgcolor.triplet.hex  # type: ignore[union-attr]

        dark_header = header_background()
        theme = app.theme_variables
        assert check_colours() == (theme["success"].lower(), theme["error"].lower())
        app.theme = "textual-light"
        await pilot.pause()
        theme = app.theme_variables
        assert check_colours() == (theme["success"].lower(), theme["error"].lower())
        assert header_background() != dark_header


# ------------------------------------------------------------------ keys and mouse


async def test_keys_move_the_cursor_and_say_which_row() -> None:
    app = TableApp(100)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        await pilot.pause()
        page = table.scrollable_content_region.height - 1
        await pilot.press("down", "down")
        assert table.cursor_row == 2 and table.cursor_key == "3"
        await pilot.press("up")
        assert table.cursor_row == 1
        await pilot.press("pagedown")
        assert table.cursor_row == 1 + page and table.scroll_y > 0
        await pilot.press("pageup")
        assert table.cursor_row == 1
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert table.cursor_row == 99 and table.scroll_y == table.max_scroll_y
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0
        await pilot.press("enter")
        await pilot.pause()
        highlighted = [m for m in app.seen if isinstance(m, LineTable.RowHighlighted)]
        assert [m.row_key for m in highlighted][-3:] == ["2", "100", "1"]
        assert highlighted[-1].cursor_row == 0 and highlighted[-1].control is table
        [selected] = [m for m in app.seen if isinstance(m, LineTable.RowSelected)]
        assert selected.row_key == "1"


async def test_a_click_moves_the_cursor_a_second_selects_a_header_click_names_its_column() -> None:
    app = TableApp(100)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        await pilot.pause()
        await pilot.click(LineTable, offset=(2, 4))  # the fourth row (the header is line 0)
        await pilot.pause()
        assert table.cursor_row == 3
        assert not [m for m in app.seen if isinstance(m, LineTable.RowSelected)]
        await pilot.click(LineTable, offset=(2, 4))
        await pilot.pause()
        [selected] = [m for m in app.seen if isinstance(m, LineTable.RowSelected)]
        assert selected.row_key == "4"
        name_x = table.columns["id"].get_render_width() + 1
        await pilot.click(LineTable, offset=(name_x, 0))
        await pilot.pause()
        [header] = [m for m in app.seen if isinstance(m, LineTable.HeaderSelected)]
        assert header.column_key == "name" and header.column_index == 1
        assert header.label.plain == " name"


async def test_the_mouse_over_a_row_hovers_it() -> None:
    app = TableApp(100)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        await pilot.pause()

        def background(y: int) -> object:
            return next(iter(painted(table)[y])).style.bgcolor  # type: ignore[union-attr]

        before = background(5)
        await pilot.hover(LineTable, offset=(2, 5))
        await pilot.pause()
        assert background(5) != before
        assert background(5) not in (background(4), background(6))


async def test_without_a_cursor_keys_scroll_and_nothing_is_highlighted() -> None:
    app = TableApp(100, cursor=False)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        await pilot.pause()
        await pilot.press("down", "down", "pagedown")
        await pilot.pause()
        assert table.scroll_y > 2
        assert not app.seen


# ------------------------------------------------------------------ rows


async def test_the_cursor_follows_its_row_through_a_sort_and_a_filter() -> None:
    app = TableApp(100)
    async with app.run_test(size=(60, 20)) as pilot:
        table = app.query_one(LineTable)
        table.focus()
        table.move_cursor(row=40)
        await pilot.pause()
        assert table.cursor_key == "41"
        backwards = dict(reversed(list(rows(100).items())))
        table.set_rows(backwards)  # a sort: same rows, another order
        await pilot.pause()
        assert table.cursor_key == "41" and table.cursor_row == 59
        table.set_rows({k: v for k, v in backwards.items() if int(k) % 2})  # a filter
        await pilot.pause()
        assert table.cursor_key == "41" and table.row_count == 50
        table.set_rows({k: v for k, v in backwards.items() if int(k) < 10})  # 41 filtered out
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0


def test_rows_say_what_changed_and_columns_only_widen() -> None:
    data = TableRows()
    data.set_columns(COLUMNS, LEFT)
    assert [c.content_width for c in data.columns.values()] == [2, 5, 6]
    assert data.replace(rows(3)).kind == "rows"
    same = data.replace(rows(3))
    assert same.kind == "none"
    bumped = rows(3)
    bumped["2"] = ("2", "row 2", "1,000,000")
    change = data.replace(bumped)
    assert change.kind == "cells" and change.changed == ["2"] and change.widened
    assert data.columns["count"].content_width == 10
    assert data.replace(dict(reversed(list(bumped.items())))).kind == "order"
    data.replace(rows(3))  # the wide count goes: the column stays wide
    assert data.columns["count"].content_width == 10
    data.reset_widths()
    assert data.columns["count"].content_width == 6
    assert [cell.plain for cell in data.row("1")] == [" 1", " row 1", " 7"]
    assert [cell.justify for cell in data.row("1")] == ["right", "left", "right"]


def test_the_apps_tables_carry_the_messages() -> None:
    for table in (RegistrationsTable, DoorbellsTable):
        assert table.RowHighlighted is LineTable.RowHighlighted
        assert table.HeaderSelected is LineTable.HeaderSelected
    assert LineTable.RowHighlighted.handler_name == "on_line_table_row_highlighted"


def test_shared_columns_change_once_for_every_row_of_their_group() -> None:
    data = TableRows()
    columns = (("id", "#"), ("base", "base"), ("name", "name"))
    data.set_columns(columns, frozenset({"name"}), shared=("base",))
    own = {str(i): (str(i), f"row {i}") for i in range(1, 1001)}
    groups = {key: "even" if int(key) % 2 == 0 else "odd" for key in own}
    assert data.replace(own, groups, {"even": ("7",), "odd": ("9",)}).kind == "rows"
    assert [cell.plain for cell in data.row("2")] == [" 2", " 7", " row 2"]
    assert data.row_cells("3") == ("3", "9", "row 3")
    # One group's figure moves: one change, no row listed, the column widens.
    change = data.replace(own, groups, {"even": ("12,345",), "odd": ("9",)})
    assert (change.kind, change.changed, change.groups) == ("cells", [], {"even"})
    assert change.widened and data.columns["base"].content_width == 7
    assert data.row_cells("1000") == ("1000", "12,345", "row 1000")
    assert data.replace(own, groups, {"even": ("12,345",), "odd": ("9",)}).kind == "none"
    # A row moving to another group is that row's change.
    moved = {**groups, "4": "odd"}
    change = data.replace(own, moved, {"even": ("12,345",), "odd": ("9",)})
    assert (change.changed, change.groups) == (["4"], set())
    assert data.row_cells("4") == ("4", "9", "row 4")
    data.reset_widths()
    assert data.columns["base"].content_width == 7  # the cells shown now still need it
    with pytest.raises(ValueError, match="needs each row's group"):
        data.replace(own)
    with pytest.raises(ValueError, match="consecutive"):
        data.set_columns((("a", "a"), ("b", "b"), ("c", "c")), frozenset(), shared=("a", "c"))


async def test_a_moving_shared_figure_repaints_only_the_rows_in_view() -> None:
    app = TableApp(0, cursor=False)
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(LineTable)
        table.set_columns((("id", "#"), ("base", "base")), frozenset(), shared=("base",))
        own = {str(i): (str(i),) for i in range(1, 1001)}
        groups = dict.fromkeys(own, "all")
        table.set_rows(own, groups, {"all": ("1.0",)})
        await pilot.pause()
        painted: list[int] = []
        refresh_line = table.refresh_line
        table.refresh_line = lambda y: painted.append(y) or refresh_line(y)  # type: ignore[method-assign,func-returns-value]
        table.set_rows(own, groups, {"all": ("2.0",)})
        assert 0 < len(painted) <= table.size.height
        await pilot.pause()
        assert " 2.0" in table.render_line(1).text


def test_an_update_changes_only_the_rows_named_and_keeps_the_rest() -> None:
    data = TableRows()
    data.set_columns(COLUMNS, LEFT)
    data.replace(rows(5))
    kept = data.cells["1"]
    change = data.update({"3": ("3", "row 3", "123,456,789")})
    assert (change.kind, change.changed, change.widened) == ("cells", ["3"], True)
    assert data.keys == ["1", "2", "3", "4", "5"] and data.cells["1"] is kept
    assert data.row_cells("3") == ("3", "row 3", "123,456,789")
    assert data.update({"3": ("3", "row 3", "123,456,789")}).kind == "none"
    with pytest.raises(KeyError):
        data.update({"9": ("9", "row 9", "0")})
