"""1,000 registrations whose counts all change at every reading: what the table
shows (rendered, not just stored) is the latest reading, wherever the row was."""

from __future__ import annotations

from dataclasses import replace

from rich.cells import cell_len
from textual.geometry import Region

from iofdtui.engine.snapshot import Snapshot
from iofdtui.reports import format as fmt
from iofdtui.ui.app import make_app
from iofdtui.ui.widgets.registrations_table import COLUMNS, RegistrationsTable, cells
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import fixed_clock
from tests.ui.test_scale_fake import THOUSAND, ThousandLab


class GrowingLab(ThousandLab):
    """Every reading adds to every registration's signals, by more each time."""

    readings = 0

    def snapshot(self) -> Snapshot:
        """The 1,000 rows with this reading's counts (they grow past a million)."""
        GrowingLab.readings += 1
        n = GrowingLab.readings
        regs = tuple(
            replace(r, signals=r.signals + n * n * 997 * (i + 1))
            for i, r in enumerate(self.snap.registrations)
        )
        return replace(self.snap, registrations=regs)


def _rendered(table: RegistrationsTable) -> list[str]:
    """The text of the table's visible lines, header first, as painted now."""
    width, height = table.size
    return [strip.text for strip in table.render_lines(Region(0, 0, width, height))]


def _check_visible(app, table: RegistrationsTable) -> int:  # type: ignore[no-untyped-def]
    """Every painted row shows the latest reading's signals; returns how many rows."""
    latest = {str(r.id): r for r in app.snapshot.registrations}
    seen = 0
    for line in _rendered(table)[1:]:
        words = line.replace("│", " ").split()
        if not words or words[0] not in latest:
            continue
        stats = latest[words[0]]
        assert fmt.count(stats.signals, table.compact) in words, (line, stats.signals)
        seen += 1
    return seen


async def test_rows_show_the_latest_counts_after_scrolling_filtering_and_widening() -> None:
    GrowingLab.readings = 0
    app = make_app(GrowingLab, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count == THOUSAND)
        table.focus()
        # Several readings while the bottom rows are off screen.
        start = GrowingLab.readings
        await wait_for(pilot, lambda: GrowingLab.readings >= start + 4)
        assert _check_visible(app, table) > 5

        # Scroll to the bottom: rows updated while hidden show the latest counts.
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.selected_id == THOUSAND)
        await pilot.pause()
        assert _check_visible(app, table) > 5
        assert str(THOUSAND) in " ".join(_rendered(table))

        # Filter down to a few rows and back to all: every row, every cell current.
        app.main.filter_text = "d0003"
        await wait_for(pilot, lambda: table.row_count < 200)
        before = GrowingLab.readings
        await wait_for(pilot, lambda: GrowingLab.readings >= before + 2)
        app.main.filter_text = ""
        await wait_for(pilot, lambda: table.row_count == THOUSAND)
        await pilot.pause()
        latest = {str(r.id): r for r in app.snapshot.registrations}
        for row in table.ordered_rows:
            key = row.key
            shown = tuple(cell.plain[1:] for cell in table.get_row(key))
            baseline = app.snapshot.baseline_for(latest[key])
            assert shown == cells(latest[key], baseline, table.compact), key
        assert table.selected_id == THOUSAND, "the cursor kept its registration"

        # Columns grew with the counts: no cell is wider than its column.
        for col_key, _ in COLUMNS:
            column = table.columns[col_key]  # type: ignore[index]
            widest = max(cell_len(cell.plain) for cell in table.get_column(col_key))
            assert column.content_width >= widest, col_key
        assert _check_visible(app, table) > 5
