"""The app's two-vCPU lab on /dev/kvm: a completion kicked by one vCPU and taken by
the other, added through the form, exact at every checkpoint, removed."""

from __future__ import annotations

import pytest
from textual.message import Message
from textual.widgets import Select, Static

from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.app import make_app
from iofdtui.ui.messages import RegistrationAdded, RegistrationRemoved
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.widgets.completion_detail import CompletionDetail
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import outcomes, wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm

PORT = 0x600  # the demo's exit-only doorbell, rung by both vCPUs until it has a completion


def _rings_on(snap: Snapshot, vcpu: int) -> int:
    door = next(d for d in snap.checkpoint.doorbells if d.addr == PORT)
    return door.per_vcpu[vcpu].rings


async def _next_checkpoint(pilot, app) -> Snapshot:  # type: ignore[no-untyped-def]
    number = app.snapshot.checkpoint.number
    await wait_for(pilot, lambda: app.snapshot.checkpoint.number > number, timeout=10)
    return app.snapshot


async def test_a_completion_kicked_by_vcpu_1_is_taken_by_vcpu_0_exactly() -> None:
    messages: list[Message] = []
    app = make_app(vcpus=2, refresh_interval=0.1)
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        assert app.screen.session.lab.vcpus == 2
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        form = app.screen
        form.query_one("#completion", Select).value = "msi"
        await wait_for(pilot, lambda: form.query_one("#vcpus").display)
        form.query_one("#vcpus", Select).value = (1, 0)
        await pilot.click("#addr")
        await pilot.press(*f"{PORT:#x}", "enter")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationAdded))
        [added] = outcomes(messages, RegistrationAdded)
        assert (added.completion, added.vcpus) == ("msi", (1, 0))
        log = app.query_one(EventLog)
        assert any("kicked by vCPU 1, interrupt to vCPU 0" in line for line in log.entries)

        def answered() -> bool:
            rows = [r for r in app.snapshot.registrations if r.id == added.reg_id]
            return bool(rows) and rows[0].completion is not None and rows[0].completion.kicks > 50

        await wait_for(pilot, answered, timeout=20)
        # Two checkpoints: every count balances at each, and only vCPU 1 rings the port.
        first = await _next_checkpoint(pilot, app)
        second = await _next_checkpoint(pilot, app)
        for snap in (first, second):
            assert snap.checkpoint.holds, snap.checkpoint
            c = dict(snap.checkpoint.completions)[added.reg_id]
            assert c.exact and c.kicks == c.irqfd_writes == c.handler_runs > 0, c
            assert (c.kicker, c.vcpu) == (1, 0) and c.runs_on == (c.handler_runs, 0), c
        assert _rings_on(second, 0) == _rings_on(first, 0), "vCPU 0 no longer rings it"
        assert _rings_on(second, 1) > _rings_on(first, 1)

        # The detail pane says who kicks and where the runs landed.
        table = app.query_one(RegistrationsTable)
        table.focus()

        def select_it() -> bool:
            table.move_cursor(row=table.row_count - 1)
            return app.screen.session.selected == added.reg_id

        await wait_for(pilot, select_it)
        detail = app.query_one(CompletionDetail)
        await wait_for(pilot, lambda: detail.has_class("-shown"))
        counts = detail.query_one("#completion-counts", Static)
        await wait_for(pilot, lambda: "MSI vCPU 1 kicks → vCPU 0" in str(counts.render()))
        assert "runs vCPU 0 " in str(counts.render())

        # Removed: the port rings on both vCPUs again (the shared plan, split anew).
        await pilot.press("d")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationRemoved))
        [removed] = outcomes(messages, RegistrationRemoved)
        assert removed.final.completion is not None and removed.final.completion.exact
        before = await _next_checkpoint(pilot, app)
        after = await _next_checkpoint(pilot, app)
        assert after.checkpoint.holds
        assert _rings_on(after, 0) > _rings_on(before, 0), "vCPU 0 rings it again"
