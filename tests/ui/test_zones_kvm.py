"""The app on /dev/kvm with a coalesced zone: added through the form over a
doorbell that exits, its exits fall to the ring-full ones, its ring entries
grow, the doorbell balances; `d` on the zones table removes it."""

from __future__ import annotations

import asyncio

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Select

from iofdtui.engine.model import Bus
from iofdtui.ui.messages import DrainChanged, ZoneAdded, ZoneRemoved
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.widgets.doorbells_table import DoorbellsTable
from iofdtui.ui.widgets.zones_table import ZonesTable
from tests.ui.conftest import outcomes, wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)
from .test_app_kvm import BASELINE_PIO, doorbell, fresh_app, next_snapshot

pytestmark = pytest.mark.kvm


async def add_zone_through_form(pilot: Pilot, address: str, size: str) -> None:
    """Press a, choose the zone kind, type the address and the size, press Enter."""
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AddRegistrationScreen))
    form = pilot.app.screen
    form.query_one("#kind", Select).value = "zone"  # set, not clicked: see add_through_form
    await wait_for(pilot, lambda: form.has_class("-zone"))
    await pilot.pause()  # laid out with the size row shown
    await pilot.click("#addr")
    await pilot.press(*address)
    await pilot.click("#size")
    await pilot.press(*size, "enter")


async def test_a_zone_over_an_exiting_doorbell_turns_its_exits_into_ring_entries() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        exits_before = doorbell(second, BASELINE_PIO).exits - doorbell(first, BASELINE_PIO).exits
        rings_before = doorbell(second, BASELINE_PIO).rings - doorbell(first, BASELINE_PIO).rings
        # Up to two visits (513 rings each) can be in flight across a reading.
        assert exits_before == pytest.approx(rings_before, abs=1100) and exits_before > 0

        await add_zone_through_form(pilot, "0x600", "8")
        await wait_for(pilot, lambda: outcomes(messages, ZoneAdded))
        [added] = outcomes(messages, ZoneAdded)
        assert (added.spec.bus, added.spec.addr, added.spec.size) == (Bus.PIO, 0x600, 8)
        assert not isinstance(app.screen, AddRegistrationScreen), "the form closes on success"

        first = await next_snapshot(pilot)
        await asyncio.sleep(0.4)
        second = await next_snapshot(pilot)
        before, after = doorbell(first, BASELINE_PIO), doorbell(second, BASELINE_PIO)
        rings = after.rings - before.rings
        # Only a write that finds the ring full still exits: about one in 170.
        assert after.entries > before.entries and rings > 0
        assert after.exits - before.exits < rings / 20
        assert after.ring_full > 0 and after.live_ok
        zones = app.query_one(ZonesTable)
        assert list(zones.rows) == [str(added.zone_id)]
        assert "ring entries" in [
            c.label.plain.strip() for c in app.query_one(DoorbellsTable).columns.values()
        ]

        # The doorbell balances exactly at the next checkpoint (with the ring entries).
        await wait_for(
            pilot,
            lambda: (
                app.snapshot.checkpoint is not None
                and doorbell(app.snapshot.checkpoint, BASELINE_PIO).entries > 0
            ),
            timeout=10,
        )
        checkpoint = app.snapshot.checkpoint
        assert checkpoint.holds and doorbell(checkpoint, BASELINE_PIO).balance == 0

        zones.focus()
        zones.move_cursor(row=0)
        await pilot.press("d")
        await wait_for(pilot, lambda: outcomes(messages, ZoneRemoved))
        [removed] = outcomes(messages, ZoneRemoved)
        assert removed.final.id == added.zone_id and removed.final.entries > 0
        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        # Every write exits again; the entries stay in the doorbell's account, frozen.
        assert doorbell(second, BASELINE_PIO).entries == doorbell(first, BASELINE_PIO).entries
        exits = doorbell(second, BASELINE_PIO).exits - doorbell(first, BASELINE_PIO).exits
        rings = doorbell(second, BASELINE_PIO).rings - doorbell(first, BASELINE_PIO).rings
        assert exits == pytest.approx(rings, abs=1100) and exits > 0
        assert [z.removed for z in second.zones] == [True]


async def test_z_switches_who_drains_the_ring_and_the_counts_still_balance() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        await add_zone_through_form(pilot, "0x600", "8")
        await wait_for(pilot, lambda: outcomes(messages, ZoneAdded))
        await wait_for(pilot, lambda: not isinstance(app.screen, AddRegistrationScreen))
        await wait_for(pilot, lambda: app.query(ZonesTable))  # mounted by the next reading
        zones = app.query_one(ZonesTable)
        for mode, said in (("thread", "by a thread"), ("exits", "at every userspace exit")):
            await pilot.press("z")
            await wait_for(
                pilot, lambda mode=mode: DrainChanged(mode) in outcomes(messages, DrainChanged)
            )
            await wait_for(
                pilot,
                lambda mode=mode: app.snapshot.ring is not None and app.snapshot.ring.mode == mode,
            )
            assert any(f"coalesced ring drained {said}" in e for e in app.query_one("#log").entries)
            assert ("by a thread" in str(zones.border_subtitle or "")) == (mode == "thread")
            # Switching parks the guest between epochs: the next checkpoint still balances.
            seen = app.snapshot.checkpoint
            await wait_for(pilot, lambda seen=seen: app.snapshot.checkpoint is not seen, timeout=10)
            assert app.snapshot.checkpoint.holds
