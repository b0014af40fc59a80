"""The app on /dev/kvm: a registration with a completion, added, watched and removed."""

from __future__ import annotations

import asyncio

import pytest
from textual.message import Message
from textual.widgets import Select, Static

from iofdtui.ui.messages import RegistrationAdded, RegistrationRemoved
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.widgets.completion_detail import CompletionDetail
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from iofdtui.ui.widgets.stage_bars import StageBars
from tests.ui.conftest import outcomes, wait_for
from tests.ui.test_app_kvm import fresh_app, next_snapshot, registration

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm


async def test_an_msi_completion_is_counted_timed_drawn_and_removed() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        choice = app.screen.query_one("#completion", Select)
        assert not choice.disabled, "the app's one-vCPU lab has an irqchip"
        choice.value = "msi"
        await wait_for(pilot, lambda: choice.value == "msi")
        await pilot.click("#addr")
        await pilot.press(*"0x600", "enter")  # the demo's exit-only doorbell
        await wait_for(pilot, lambda: outcomes(messages, RegistrationAdded))
        [added] = outcomes(messages, RegistrationAdded)
        assert added.completion == "msi"

        def answered() -> bool:
            snap = app.snapshot
            rows = [r for r in snap.registrations if r.id == added.reg_id] if snap else []
            return bool(rows) and rows[0].completion is not None and rows[0].completion.kicks > 20

        await wait_for(pilot, answered, timeout=10)
        snap = await next_snapshot(pilot)
        c = registration(snap, added.reg_id).completion
        assert c is not None and c.route == "msi" and c.answered
        assert 0 <= c.irqfd_writes - c.handler_runs <= 1  # live: one may be in flight
        assert c.round_trip.samples > 0 and c.round_trip.p50_ns > 0
        checkpoint = snap.checkpoint
        assert checkpoint is not None
        await wait_for(pilot, lambda: app.snapshot.checkpoint.number > checkpoint.number)
        assert app.snapshot.checkpoint.holds
        assert added.reg_id in dict(app.snapshot.checkpoint.completions)

        # The list marks it; the detail pane draws its stages once it is selected.
        table = app.query_one(RegistrationsTable)
        table.focus()
        table.move_cursor(row=table.row_count - 1)
        detail = app.query_one(CompletionDetail)
        await wait_for(pilot, lambda: detail.has_class("-shown"))
        await asyncio.sleep(0.3)
        line = str(detail.query_one("#completion-counts", Static).render())
        assert "MSI → vCPU 0, vector 0x40" in line and line.endswith("✓")
        [result] = detail.query_one(StageBars).results
        assert set(result.stages) == {"awake", "written", "handler"}
        assert "+msi" in " ".join(str(cell) for cell in table.get_row(str(added.reg_id)))

        await pilot.press("d")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationRemoved))
        [removed] = outcomes(messages, RegistrationRemoved)
        assert removed.final.completion is not None  # its last counts, kept
        await wait_for(pilot, lambda: not detail.has_class("-shown") or table.row_count < 3)
        assert app.snapshot is not None and app.snapshot.checkpoint is not None
