"""Filtering 1,000 registrations down to a few and back: the table replaces its
rows in one go (`LineTable.set_rows`), so check every way of reading them back
(order, index, cells, size, column widths) agrees with what was shown."""

from __future__ import annotations

from dataclasses import replace

from textual.geometry import Region

from iofdtui.engine.snapshot import RegistrationStats, Snapshot
from iofdtui.ui.app import make_app
from iofdtui.ui.widgets.registrations_table import (
    COLUMNS,
    RegistrationsTable,
    _sort_value,
    cells,
    matches,
)
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import fixed_clock
from tests.ui.test_registrations_refresh import GrowingLab
from tests.ui.test_scale_fake import THOUSAND, ThousandLab


def _expected(
    registrations: tuple[RegistrationStats, ...], needle: str, sort: str
) -> list[RegistrationStats]:
    shown = [r for r in registrations if matches(r, needle)]
    return sorted(shown, key=lambda r: _sort_value(r, sort))


def _check_table(
    table: RegistrationsTable, expected: list[RegistrationStats], snap: Snapshot
) -> None:
    """Every row present, in order, with its current cells beside the baselines
    of `snap`, however it is read."""
    assert table.row_count == len(expected)
    assert [row.key for row in table.ordered_rows] == [str(r.id) for r in expected]
    for index, stats in enumerate(expected):
        key = str(stats.id)
        assert table.get_row_index(key) == index
        assert tuple(cell.plain[1:] for cell in table.get_row_at(index)) == cells(
            stats, snap.baseline_for(stats), table.compact
        )
        assert table.get_row(key) == table.get_row_at(index)
    # One line a row, plus the header: what the scrollbars and paging go by.
    assert table.virtual_size.height == len(expected) + 1
    for col_key, _ in COLUMNS:
        column = table.columns[col_key]  # type: ignore[index]
        widest = max((len(cell.plain) for cell in table.get_column(col_key)), default=0)
        assert column.content_width >= widest, col_key


def _painted_ids(table: RegistrationsTable) -> list[str]:
    width, height = table.size
    lines = [strip.text for strip in table.render_lines(Region(0, 0, width, height))]
    words = [line.replace("│", " ").split() for line in lines]
    return [line[0] for line in words if line and line[0].isdigit()]


async def test_filter_to_a_few_and_back_keeps_rows_order_values_and_cursor() -> None:
    GrowingLab.readings = 0
    app = make_app(GrowingLab, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count == THOUSAND)
        table.focus()
        app.main.sort_key = "signals"
        await pilot.pause()
        # Put the cursor on a registration that stays through the filter.
        target = next(r.id for r in app.snapshot.registrations if matches(r, "d0003"))
        expected = _expected(app.snapshot.registrations, "", "signals")
        table.move_cursor(row=[r.id for r in expected].index(target), animate=False)
        await pilot.pause()
        assert table.selected_id == target

        for needle in ("d0003", "", "0x1", "d000", ""):
            app.main.filter_text = needle
            # Readings keep coming: rows hidden meanwhile change their counts.
            before = GrowingLab.readings
            await wait_for(pilot, lambda n=before: GrowingLab.readings >= n + 2)
            await pilot.pause()
            snap = app.snapshot
            _check_table(table, _expected(snap.registrations, needle, "signals"), snap)
            if matches(next(r for r in snap.registrations if r.id == target), needle):
                assert table.selected_id == target, needle
                assert app.main.selected_id == target
                order = [r.id for r in _expected(snap.registrations, needle, "signals")]
                assert table.cursor_row == order.index(target)

        # Back to all 1,000, sorted by id: the painted rows are the first ones.
        app.main.sort_key = "id"
        table.move_cursor(row=0, animate=False)
        await pilot.pause()
        _check_table(table, _expected(app.snapshot.registrations, "", "id"), app.snapshot)
        assert _painted_ids(table)[:5] == ["1", "2", "3", "4", "5"]


async def test_rows_that_went_away_and_came_back_show_their_new_cells() -> None:
    app = make_app(ThousandLab, refresh_interval=3600.0, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count == THOUSAND)
        regs = ThousandLab.snap.registrations
        baselines = ThousandLab.snap.baselines
        table.show(regs[:10], baselines)
        # The hidden rows change, some past their column's width, and ten go.
        changed = tuple(
            replace(r, signals=r.signals + 10**12 * (i % 3)) for i, r in enumerate(regs[:-10])
        )
        table.show(changed, baselines)
        await pilot.pause()
        _check_table(table, _expected(changed, "", "id"), ThousandLab.snap)
        # Private on purpose: what is kept for rows that went shows nowhere on
        # screen, only in memory, and this is what keeps it bounded.
        assert len(table._cells_memo) == len(changed), "cells of removed rows dropped"
        # A compact-format switch forgets the kept cells and still shows them all.
        table.show(changed[:3], baselines)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        table.show(changed, baselines)
        await pilot.pause()
        assert table.compact
        _check_table(table, _expected(changed, "", "id"), ThousandLab.snap)
