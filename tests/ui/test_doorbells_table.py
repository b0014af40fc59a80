"""The doorbells table: its live and exact check cells, and what fits at 80 columns."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.engine.snapshot import DoorbellStats, Latency, SlotStats, Snapshot, VcpuCounts
from iofdtui.ui.app import make_app
from iofdtui.ui.widgets.doorbells_table import COLUMNS, DoorbellsTable, live_cell, per_vcpu_cell
from tests.ui.fake_lab import SNAPSHOT, FakeLab, fixed_clock


def _door(rings: int, signals: int, exits: int, issued: int | None) -> DoorbellStats:
    return DoorbellStats(Bus.PIO, 0x3F8, rings, signals, exits, (), issued)


def test_live_cell_shows_the_rings_in_flight_inside_the_bracket() -> None:
    assert live_cell(_door(100, 60, 40, 100)) == "✓"
    assert live_cell(_door(100, 80, 37, 117)) == "✓ +17"


def test_live_cell_turns_to_a_cross_when_a_count_is_lost_or_invented() -> None:
    assert live_cell(_door(100, 60, 37, 117)) == "✗ -3"  # three rings nobody counted
    assert live_cell(_door(100, 80, 40, 117)) == "✗ +20"  # more counted than issued


def test_without_issued_only_the_exact_balance_counts() -> None:
    assert live_cell(_door(100, 60, 40, None)) == "✓"
    assert live_cell(_door(100, 60, 41, None)) == "✗ +1"


def test_per_vcpu_cell_gives_each_vcpus_rings_and_exits() -> None:
    door = DoorbellStats(
        Bus.PIO,
        0x600,
        1_336_528,
        0,
        1_336_528,
        (),
        1_336_528,
        per_vcpu=(VcpuCounts(0, 1_006_156, 1_006_156), VcpuCounts(1, 330_372, 330_372)),
    )
    assert per_vcpu_cell(door) == "0:1.01M/1.01M 1:330k/330k"
    assert per_vcpu_cell(door, compact=True) == "0:1.01M 1:330k"


# ------------------------------------------------------------------ the table at 80 columns


class LiveLab(FakeLab):
    """The fixed snapshot with what a live run shows: rings in flight, counts past a million."""

    doorbells: tuple[DoorbellStats, ...] = (
        DoorbellStats(
            Bus.MMIO, 0xFE00_0000, 1_351_601, 676_057, 676_057, ((4, 2, 676_057),), 1_352_627
        ),
        DoorbellStats(Bus.MMIO, 0xFE0F_F000, 242_136, 0, 242_404, ((4, 0, 242_404),), 242_649),
        DoorbellStats(Bus.PIO, 0x03F8, 676_057, 676_057, 0, (), 676_570),
        DoorbellStats(Bus.PIO, 0x0600, 242_136, 0, 242_136, ((1, 0, 242_136),), 242_649),
    )
    slots: tuple[SlotStats, ...] = SNAPSHOT.slots
    vcpu_count = 1

    def snapshot(self) -> Snapshot:
        doors = self.doorbells
        if self.vcpu_count > 1:
            doors = tuple(
                replace(
                    d,
                    per_vcpu=(
                        VcpuCounts(0, d.rings // 3, d.exits // 3),
                        VcpuCounts(1, d.rings - d.rings // 3, d.exits - d.exits // 3),
                    ),
                )
                for d in doors
            )
        return replace(SNAPSHOT, vcpus=self.vcpu_count, doorbells=doors, slots=self.slots)


class LongPlanLab(LiveLab):
    """Six writes at one doorbell, four of them missing its trigger value."""

    slots = (
        tuple(
            SlotStats(
                i, SlotSpec(Bus.MMIO, 0xFE00_0000, 4, value, 32), 1_000, 0, None, Latency.empty()
            )
            for i, value in enumerate(range(1, 7))
        )
        + SNAPSHOT.slots[3:]
    )
    doorbells = (
        replace(
            LiveLab.doorbells[0],
            exits_by_value=tuple((4, v, 1_234_567) for v in range(2, 7)),
        ),
        *LiveLab.doorbells[1:],
    )


class TwoVcpuLiveLab(LiveLab):
    vcpu_count = 2


async def shown_at(factory: type[FakeLab], size: tuple[int, int]) -> tuple[DoorbellsTable, dict]:
    """Run the app on `factory` at `size`; the doorbells table and its cells by row and column."""
    app = make_app(factory, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=size) as pilot:
        table = app.query_one(DoorbellsTable)
        for _ in range(250):
            if table.row_count == 4:
                break
            await pilot.pause(0.02)
        await pilot.pause(0.1)
        # Everything in view: no sideways scroll, every doorbell on screen.
        assert table.max_scroll_x == 0, (table.virtual_size, table.scrollable_content_region)
        assert not table.show_horizontal_scrollbar
        assert table.max_scroll_y == 0 and table.row_count == 4
        shown = {
            row: {col: table.get_cell(row, col).plain.strip() for col in table.columns}
            for row in table.rows
        }
        headers = {k: c.label.plain.strip() for k, c in table.columns.items()}
        shown["header"] = headers
        return table, shown


async def test_at_80_columns_every_doorbell_and_column_fits() -> None:
    _table, shown = await shown_at(LiveLab, (80, 24))
    assert list(shown["header"]) == [key for key, _ in COLUMNS]
    assert shown["header"]["misses"] == "misses"  # not "exits by value": no room
    mmio = shown["mmio:fe000000"]
    assert mmio["rings"] == "1.35M" and mmio["misses"] == "0x2:676,057"
    assert mmio["live"] == "✓"  # the rings in flight are left out; the verdict stays
    assert mmio["check"] == "✓"


async def test_at_80_columns_a_long_plan_is_cut_short_not_scrolled() -> None:
    _table, shown = await shown_at(LongPlanLab, (80, 24))
    mmio = shown["mmio:fe000000"]
    assert mmio["plan"].startswith("4B←0x1 4B←") and mmio["plan"].endswith("…")
    assert mmio["misses"].startswith("0x2:1.23M") and mmio["misses"].endswith("…")


async def test_at_80_columns_two_vcpus_fit_too() -> None:
    _table, shown = await shown_at(TwoVcpuLiveLab, (80, 24))
    assert shown["header"]["vcpus"] == "vCPU:rings"
    assert shown["mmio:fe000000"]["vcpus"] == "0:451k 1:901k"


async def test_a_wide_table_keeps_the_full_headers_and_the_rings_in_flight() -> None:
    _table, shown = await shown_at(LiveLab, (160, 45))
    assert shown["header"]["misses"] == "exits by value"
    assert shown["mmio:fe000000"]["live"] == "✓ +513"


async def test_a_resize_chooses_again() -> None:
    app = make_app(LiveLab, refresh_interval=3600.0, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(DoorbellsTable)
        for _ in range(250):
            if table.row_count == 4:
                break
            await pilot.pause(0.02)

        def header() -> str:
            return table.columns["misses"].label.plain.strip()  # type: ignore[index]

        assert header() == "exits by value"
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.1)
        assert header() == "misses" and table.max_scroll_x == 0 and table.row_count == 4
        await pilot.resize_terminal(160, 45)
        await pilot.pause(0.1)
        assert header() == "exits by value" and table.max_scroll_x == 0


# ------------------------------------------------------------------ a reading in place


class _TwoTables(App[None]):
    """The same readings in a table kept across readings and in a fresh one."""

    def compose(self) -> ComposeResult:
        yield DoorbellsTable(id="kept")
        yield DoorbellsTable(id="fresh")


def _shown(table: DoorbellsTable) -> list[tuple[str, list[str]]]:
    return [(key, [table.get_cell(key, col).plain for col in table.columns]) for key in table.rows]


@pytest.mark.parametrize("width", [160, 80])
async def test_a_reading_changes_only_its_moved_rows_and_shows_what_a_fresh_table_shows(
    width: int,
) -> None:
    rng = random.Random(width)
    slots = SNAPSHOT.slots
    doors = [DoorbellStats(Bus.PIO, 0x1000 + i, 0, 0, 0, (), 0) for i in range(60)] + list(
        LiveLab.doorbells
    )
    app = _TwoTables()
    async with app.run_test(size=(width, 60)) as pilot:
        kept = app.query_one("#kept", DoorbellsTable)
        kept.show(tuple(doors), slots, None)
        await pilot.pause()
        whole: list[object] = []  # the readings that showed the whole table
        set_rows = kept.set_rows

        def counted(*args: object, **kwargs: object) -> None:
            whole.append(args)
            set_rows(*args, **kwargs)  # type: ignore[arg-type]

        kept.set_rows = counted  # type: ignore[method-assign]
        for reading in range(40):
            # A few doorbells move: counts grow, rings in flight come and go, and
            # now and then a missed value widens a column past what it was.
            for i in rng.sample(range(len(doors)), 3):
                d = doors[i]
                rings = d.rings + rng.choice((1, 9, 999, 123_456))
                misses = d.exits_by_value
                if rng.random() < 0.2:
                    misses = ((4, rng.randrange(1 << 32), rings),)
                in_flight = rng.choice((0, 0, 5, 12_345))
                doors[i] = replace(
                    d,
                    rings=rings,
                    exits=rings - d.signals,
                    exits_by_value=misses,
                    issued=rings + in_flight,
                )
            reading_doors = tuple(doors)
            kept.show(reading_doors, slots, None)
            fresh = DoorbellsTable()
            await app.mount(fresh)
            fresh.styles.width = kept.size.width
            await pilot.pause()
            fresh.show(reading_doors, slots, None)
            await pilot.pause()
            assert kept.columns.keys() == fresh.columns.keys(), reading
            assert _shown(kept) == _shown(fresh), reading
            await fresh.remove()
        # Wide, every reading changed its three rows in place (a wider cell only
        # widens its column).  Narrow, a wider plan or missed value can change
        # how the free columns are cut: those readings showed the whole table.
        assert len(whole) == 0 if width == 160 else 0 < len(whole) < 20


class ZonedLiveLab(LiveLab):
    """A coalesced zone over PIO 0x0600: most of its rings are ring entries."""

    doorbells = (
        *LiveLab.doorbells[:3],
        replace(
            LiveLab.doorbells[3],
            exits=1_424,
            exits_by_value=((1, 0, 1_424),),
            entries=240_712,
            entries_by_value=((1, 0, 240_712),),
            ring_full=1_424,
        ),
    )


async def test_ring_entries_get_a_column_when_a_zone_takes_writes() -> None:
    for size in ((160, 45), (80, 24)):
        _table, shown = await shown_at(ZonedLiveLab, size)
        keys = list(shown["header"])
        assert keys.index("entries") == keys.index("exits") + 1
        door = shown["pio:600"]
        assert door["entries"] in ("240,712", "241k") and door["live"].startswith("✓")
        assert shown["pio:3f8"]["entries"] == "0"
    # Without zones the table is as it was.
    _table, shown = await shown_at(LiveLab, (160, 45))
    assert "entries" not in shown["header"]
