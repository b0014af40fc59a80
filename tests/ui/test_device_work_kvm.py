"""`W` on /dev/kvm: a registration's device work, set from the app, moves its
"written" stage by about the work, and every kick still balances exactly."""

from __future__ import annotations

import pytest
from textual.message import Message
from textual.widgets import Input, Select, Static

from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.messages import CountersReset, DeviceWorkChanged, RegistrationAdded
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.device_work import DeviceWorkPrompt
from iofdtui.ui.widgets.completion_detail import CompletionDetail
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import outcomes, wait_for
from tests.ui.test_app_kvm import fresh_app, registration

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm

WORK_US = 60.0
"""The device work set: the reader spins until this long after its wake-up, so
the written stage cannot be shorter, and on an idle reader it is not much longer."""


async def test_device_work_set_with_w_moves_the_written_stage_by_about_the_work() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        app.screen.query_one("#completion", Select).value = "msi"
        await pilot.click("#addr")
        await pilot.press(*"0x600", "enter")  # the demo's exit-only doorbell
        await wait_for(pilot, lambda: outcomes(messages, RegistrationAdded))
        [added] = outcomes(messages, RegistrationAdded)
        table = app.query_one(RegistrationsTable)
        table.focus()

        def select_it() -> bool:  # the new row shows at the next reading
            table.move_cursor(row=table.row_count - 1)
            return app.screen.session.selected == added.reg_id

        await wait_for(pilot, select_it)

        def timed(snap: Snapshot | None, kicks: int = 200) -> bool:
            rows = [r for r in snap.registrations if r.id == added.reg_id] if snap else []
            c = rows[0].completion if rows else None
            return c is not None and c.round_trip.samples >= kicks

        await wait_for(pilot, lambda: timed(app.snapshot), timeout=20)
        before = registration(app.snapshot, added.reg_id).completion
        assert before is not None and before.device_work_us == 0

        # W opens the prompt on the selected registration; a bad value is one line.
        await pilot.press("W")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceWorkPrompt))
        prompt = app.screen
        field = prompt.query_one("#work", Input)
        field.value = "20000"
        await wait_for(
            pilot, lambda: "at most 10,000 µs" in str(prompt.query_one("#problem", Static).render())
        )
        await pilot.press("enter")
        assert app.screen is prompt, "an out-of-bounds work is not applied"
        field.value = f"{WORK_US:g}"
        await pilot.press("enter")
        await wait_for(pilot, lambda: outcomes(messages, DeviceWorkChanged))
        assert outcomes(messages, DeviceWorkChanged) == [DeviceWorkChanged(added.reg_id, WORK_US)]
        log = app.query_one(EventLog)
        assert any(f"#{added.reg_id}'s device works 60 µs" in line for line in log.entries)

        # Figures from the new work only: reset, then wait for kicks timed under it.
        # A reading taken before the reset may still be the one shown after it: the
        # first one after it has fewer kicks than any shown before it.
        stale = registration(app.snapshot, added.reg_id).completion.kicks
        await pilot.press("r")
        await wait_for(pilot, lambda: outcomes(messages, CountersReset))
        await wait_for(
            pilot, lambda: registration(app.snapshot, added.reg_id).completion.kicks < stale
        )
        await wait_for(pilot, lambda: timed(app.snapshot), timeout=20)
        after = registration(app.snapshot, added.reg_id).completion
        assert after is not None and after.device_work_us == pytest.approx(WORK_US, abs=0.01)
        assert before.written.p50_ns is not None and after.written.p50_ns is not None
        # The stage is now about the work set (ratios of one run's figures): the
        # device works from its wake-up, so the few µs the reader took to read
        # and answer before are inside the work, not added to it.
        work_ns = WORK_US * 1000
        assert 0.98 <= after.written.p50_ns / work_ns <= 1.5, after.written
        assert (after.written.p50_ns - before.written.p50_ns) / work_ns >= 0.5, before.written
        # The work is inside each round trip: every kick's trip holds its written
        # stage, so the quantiles keep that order (the trips' own length, or the
        # stages' shares of it, move with the machine's load between windows).
        assert after.round_trip.p50_ns is not None
        assert after.round_trip.p50_ns >= after.written.p50_ns, after

        # The detail pane says it, and the accounting is exact at the next checkpoint.
        detail = app.query_one(CompletionDetail)
        line = str(detail.query_one("#completion-counts", Static).render())
        assert "device work 60" in line
        number = app.snapshot.checkpoint.number
        await wait_for(pilot, lambda: app.snapshot.checkpoint.number > number, timeout=10)
        checkpoint = app.snapshot.checkpoint
        assert checkpoint.holds, checkpoint
        stats = dict(checkpoint.completions)[added.reg_id]
        assert stats.exact and stats.kicks == stats.irqfd_writes == stats.handler_runs > 0
