"""Where the cursor lands after `d`: on the row that followed, never back at the top."""

from __future__ import annotations

from dataclasses import replace

from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.app import make_app
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import FakeLab, fixed_clock

MANY = 150


class ManyLab(FakeLab):
    """The fake lab with 150 more registrations, each with its own signal count."""

    def __init__(self, vcpus: int = 1) -> None:
        super().__init__(vcpus)
        for i in range(MANY):
            self.add_registration(RegistrationSpec(Bus.PIO, 0x700 + i, 1, None))

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        base = snap.registrations[0]
        regs = tuple(
            replace(base, id=reg_id, spec=spec, signals=(reg_id * 37) % 211)
            for reg_id, spec in self.regs.items()
        )
        return replace(snap, registrations=regs)


async def test_d_leaves_the_cursor_on_the_row_that_followed() -> None:
    lab_box: list[ManyLab] = []

    def factory(vcpus: int) -> ManyLab:
        lab_box.append(ManyLab(vcpus))
        return lab_box[0]

    app = make_app(factory, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.main.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count > MANY)
        lab = lab_box[0]
        for _ in range(2):  # id, address, then signals
            await pilot.press("o")
        await wait_for(pilot, lambda: app.main.sort_key == "signals")
        table.focus()
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: table.cursor_row > 0)
        await pilot.pause(0.2)

        def order() -> list[str]:
            return [row.key for row in table.ordered_rows]

        row = table.cursor_row
        assert row + 3 < table.row_count, "a page down lands mid-table"
        doomed, follower, second, third = order()[row : row + 4]
        top = order()[0]
        await pilot.press("d")
        await wait_for(pilot, lambda: doomed not in order())
        assert table.cursor_key == follower, "the cursor is on the row that followed"
        assert table.cursor_row == row

        # d d fast: each d removes the row under the cursor, then the cursor
        # moves on; a d pressed while a removal is in flight is ignored.
        before = set(lab.regs)
        await pilot.press("d", "d")
        await wait_for(pilot, lambda: follower not in order() and not app.session.removing)
        await pilot.pause(0.3)
        gone = before - set(lab.regs)
        assert gone in ({int(follower)}, {int(follower), int(second)}), gone
        if gone == {int(follower)}:
            await pilot.press("d")
            await wait_for(pilot, lambda: second not in order())
        assert int(top) in lab.regs, "never the top row"
        assert table.cursor_key == third and table.cursor_row == row

        # At the end: the cursor stays on the new last row.
        await pilot.press("ctrl+end")
        await wait_for(pilot, lambda: table.cursor_row == table.row_count - 1)
        last = table.cursor_key
        await pilot.press("d")
        await wait_for(pilot, lambda: last not in order())
        assert table.cursor_row == table.row_count - 1
