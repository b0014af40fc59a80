"""Behaviour tests: the app driving the real engine on /dev/kvm, through its keys."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Input, Select, Static

from iofdtui.engine.model import Bus, SlotSpec
from iofdtui.engine.snapshot import DoorbellStats, RegistrationStats, Snapshot
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.messages import (
    GuestPaused,
    PlanChanged,
    ReaderChanged,
    RegistrationAdded,
    RegistrationRefused,
    RegistrationRemoved,
)
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.ring_plan import RingPlanScreen
from iofdtui.ui.widgets.lab_header import LabHeader
from iofdtui.ui.widgets.plan_line import PlanLine
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import outcomes, wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm

BASELINE_PIO = (Bus.PIO, 0x0600)  # in the demo plan, never registered: every ring exits
BASELINE_MMIO = (Bus.MMIO, 0xFE0F_F000)  # the guest writes 0x0 there


async def next_snapshot(pilot: Pilot) -> Snapshot:
    """The first snapshot shown after now."""
    app = pilot.app
    assert isinstance(app, IofdApp)
    before = app.snapshot
    await wait_for(pilot, lambda: app.snapshot is not before)
    assert app.snapshot is not None
    return app.snapshot


def doorbell(snap: Snapshot, key: tuple[Bus, int]) -> DoorbellStats:
    return next(d for d in snap.doorbells if (d.bus, d.addr) == key)


def registration(snap: Snapshot, reg_id: int) -> RegistrationStats:
    return next(r for r in snap.registrations if r.id == reg_id)


async def add_through_form(pilot: Pilot, address: str, trigger: str = "", bus: str = "") -> None:
    """Press a, fill the form like a user, press Enter."""
    await pilot.press("a")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, AddRegistrationScreen))
    if bus == "mmio":
        # Choose MMIO in the bus select, then go back to the address.  (Set, not
        # clicked: the select's overlay mounts asynchronously, which races the keys.)
        pilot.app.screen.query_one("#bus", Select).value = Bus.MMIO
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#bus", Select).value == Bus.MMIO)
        await pilot.click("#addr")
    await pilot.press(*address)
    if trigger:
        await pilot.click("#trigger")
        await pilot.press(*trigger)
    await pilot.press("enter")


def fresh_app() -> IofdApp:
    # A short interval makes the tests quick; the figures are the same kind.
    return make_app(refresh_interval=0.1)


async def test_wildcard_takes_the_rings_then_exits_take_over_on_removal() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        before = await next_snapshot(pilot)
        later = await next_snapshot(pilot)
        assert doorbell(later, BASELINE_PIO).exits > doorbell(before, BASELINE_PIO).exits

        await add_through_form(pilot, "0x600")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationAdded))
        [added] = outcomes(messages, RegistrationAdded)
        assert not isinstance(app.screen, AddRegistrationScreen), "the form closes on success"

        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        # Its signals grow, the doorbell's userspace exits stop dead.
        signals = [registration(s, added.reg_id).signals for s in (first, second)]
        assert signals[1] > signals[0]
        assert doorbell(second, BASELINE_PIO).exits == doorbell(first, BASELINE_PIO).exits
        table = app.query_one(RegistrationsTable)
        assert str(added.reg_id) in list(table.rows)

        # Select it (ids sort in order: it is the last row) and remove it with d.
        table.focus()
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("d")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationRemoved))
        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        assert all(r.id != added.reg_id for r in second.registrations)
        assert doorbell(second, BASELINE_PIO).exits > doorbell(first, BASELINE_PIO).exits
        # The removed eventfd's signals stay in the doorbell's account, frozen.
        assert doorbell(second, BASELINE_PIO).signals == doorbell(first, BASELINE_PIO).signals > 0


async def test_a_trigger_the_guest_misses_leaves_the_exits_running() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        await add_through_form(pilot, "0xfe0ff000", trigger="0x5", bus="mmio")
        await wait_for(pilot, lambda: outcomes(messages, RegistrationAdded))
        [added] = outcomes(messages, RegistrationAdded)
        assert added.spec.bus is Bus.MMIO and added.spec.trigger == 5

        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        assert registration(second, added.reg_id).signals == 0
        assert doorbell(second, BASELINE_MMIO).exits > doorbell(first, BASELINE_MMIO).exits
        misses = dict(((w, v), n) for w, v, n in doorbell(second, BASELINE_MMIO).exits_by_value)
        assert misses[(4, 0x0)] == doorbell(second, BASELINE_MMIO).exits


async def test_a_duplicate_shows_the_collision_in_the_form_and_the_app_goes_on() -> None:
    """The form names the registration a duplicate collides with before submit
    (the kernel would say EEXIST), so Enter sends nothing to the kernel."""
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        await add_through_form(pilot, "0x3f8")  # the demo's wildcard #1 is there
        screen = app.screen
        assert isinstance(screen, AddRegistrationScreen), "the form stays open"
        await wait_for(
            pilot,
            lambda: (
                "collides with registration #1"
                in str(screen.query_one("#problem", Static).render())
            ),
        )
        problem = str(screen.query_one("#problem", Static).render())
        assert "EEXIST" in problem
        assert screen.query_one("#addr").value == "0x3f8", "nothing typed is lost"
        assert not outcomes(messages, RegistrationRefused), "nothing was sent"

        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AddRegistrationScreen))
        first = await next_snapshot(pilot)
        second = await next_snapshot(pilot)
        assert second.total_rings > first.total_rings, "the guest still rings"
        assert [r.id for r in second.registrations] == [1, 2]


async def test_pause_freezes_every_count_and_the_checkpoint_balances() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("p")
        await wait_for(pilot, lambda: outcomes(messages, GuestPaused))
        [paused] = outcomes(messages, GuestPaused)
        assert paused.exact
        await wait_for(pilot, lambda: app.main.guest_state == "paused")
        first = await next_snapshot(pilot)
        await asyncio.sleep(0.3)
        second = await next_snapshot(pilot)
        assert second.state == "paused"
        assert second.total_rings == first.total_rings
        assert second.doorbells == first.doorbells
        assert [r.signals for r in second.registrations] == [r.signals for r in first.registrations]
        cp = second.checkpoint
        assert cp is not None and cp.exact and cp.conserved and cp.attribution_ok
        # At a pause the live counts are the checkpoint's counts: exactly balanced.
        assert all(d.balance == 0 for d in second.doorbells)
        assert (
            app.main.check_action("resume", ()) is True
            and app.main.check_action("pause", ()) is False
        )

        await pilot.press("p")
        await wait_for(pilot, lambda: app.main.guest_state == "running")
        later = await next_snapshot(pilot)
        await wait_for(pilot, lambda: app.snapshot.total_rings > later.total_rings)
        log = app.query_one("#log").entries
        assert any("guest paused" in line for line in log)
        assert any("guest resumed" in line for line in log)


PF_USER_WORKER = 0x4000
"""A kernel worker thread in a user process (include/linux/sched.h): KVM's per-VM one."""


def _comm(task: str) -> str:
    try:
        with open(f"/proc/self/task/{task}/comm") as comm:
            return comm.read().strip()
    except FileNotFoundError:
        return "(gone)"


async def test_quit_leaves_no_thread_or_fd_behind() -> None:
    def ours(task: str) -> bool:
        # KVM forks a worker per VM into the process (kvm-nx-lpage-recovery) that
        # exits on the kernel's schedule after the VM's fd closes: not our thread,
        # and a VM left open would show as its fds.  Told apart by the kernel's
        # PF_USER_WORKER flag, not its name: it carries ours ("python") until
        # the kernel renames it.
        try:
            with open(f"/proc/self/task/{task}/stat") as stat:
                text = stat.read()
        except FileNotFoundError:
            return False  # gone while we looked
        flags = int(text[text.rindex(")") + 2 :].split()[6])
        return not flags & PF_USER_WORKER

    def counts() -> tuple[int, int, int]:
        return (
            threading.active_count(),
            sum(map(ours, os.listdir("/proc/self/task"))),  # native threads too (vCPU, reader)
            len(os.listdir("/proc/self/fd")),
        )

    before = counts()
    app = fresh_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await live(pilot)
        during = counts()
        assert during[1] > before[1] and during[2] > before[2]
        await pilot.press("q")
    assert app.lab is None
    assert app.return_code == 0
    # Textual runs thread workers on asyncio's default executor; its idle
    # threads belong to asyncio, so join them before counting.
    await asyncio.get_running_loop().shutdown_default_executor()
    names = [_comm(t) for t in os.listdir("/proc/self/task")]
    assert counts() == before, names


async def test_the_ring_plan_editor_changes_what_the_guest_rings() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RingPlanScreen))
        await wait_for(
            pilot,
            lambda: (
                len(app.screen.query(PlanLine)) == 5
                and all(line.query("#value") for line in app.screen.query(PlanLine))
            ),
        )
        lines = list(app.screen.query(PlanLine))
        assert len(lines) == 5
        value = lines[-1].query_one("#value", Input)
        value.value = "0x1ff"  # MMIO 0xfe0ff000 is a 4-byte write: fits
        lines[3].query_one("#value", Input).value = "0x100"  # PIO 0x600 is a 1-byte write
        await pilot.pause()
        assert app.screen.query_one("#apply").disabled, "an invalid plan cannot be applied"
        lines[3].query_one("#value", Input).value = "0x7"
        await pilot.pause()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: outcomes(messages, PlanChanged))
        await wait_for(pilot, lambda: not isinstance(app.screen, RingPlanScreen))
        snap = await next_snapshot(pilot)
        snap = await next_snapshot(pilot)
        written = {(s.spec.bus, s.spec.addr): s.spec.value for s in snap.slots}
        assert written[BASELINE_PIO] == 0x7 and written[BASELINE_MMIO] == 0x1FF
        misses = {v for _w, v, n in doorbell(snap, BASELINE_PIO).exits_by_value if n}
        assert 0x7 in misses


async def test_c_cycles_the_reader_and_the_detail_pane_keeps_each_one() -> None:
    messages: list[Message] = []
    app = fresh_app()
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        assert app.snapshot.consumer == "epoll"
        for mode in ("none", "poll", "epoll"):
            await pilot.press("c")
            await wait_for(pilot, lambda m=mode: app.snapshot.consumer == m)
            await wait_for(
                pilot, lambda m=mode: f"reader {m}" in app.query_one(LabHeader).render().plain
            )
            if mode == "poll":
                # The kernel's own counters still agree under a busy-polling reader.
                cp = app.snapshot.checkpoint
                await wait_for(
                    pilot,
                    lambda c=cp: (
                        app.snapshot.checkpoint is not c
                        and app.snapshot.checkpoint.kernel is not None
                    ),
                )
                kernel = app.snapshot.checkpoint.kernel
                assert kernel.relations and all(r.holds for r in kernel.relations)
        assert [m.mode for m in outcomes(messages, ReaderChanged)] == [
            "none",
            "poll",
            "epoll",
        ]
        # The selected registration's ring cost, per reader measured since reset.
        await wait_for(pilot, lambda: len(app.main.reader_histograms) == 3, timeout=20)
        costs = str(app.query_one("#detail-costs", Static).render())
        names = {line.lstrip("█").split()[0] for line in costs.splitlines()[1:]}
        assert names == {"none", "poll", "▸epoll", "exit"}
        await wait_for(
            pilot, lambda: "—" not in str(app.query_one("#detail-why", Static).render()), timeout=20
        )
        cp = app.snapshot.checkpoint
        assert cp is not None and cp.holds, "every reader keeps exact conservation"


async def test_the_pin_command_pins_the_threads_and_the_header_says_where() -> None:
    app = fresh_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await live(pilot)
        app.action_toggle_pinning()
        if (os.cpu_count() or 1) < 2:
            await wait_for(
                pilot, lambda: any("not pinned" in e for e in app.query_one("#log").entries)
            )
            return
        await wait_for(pilot, lambda: app.snapshot.pinning is not None)
        await wait_for(pilot, lambda: "pinned" in app.query_one(LabHeader).render().plain)
        before = await next_snapshot(pilot)
        await wait_for(pilot, lambda: app.snapshot.total_rings > before.total_rings)
        app.action_toggle_pinning()
        await wait_for(pilot, lambda: app.snapshot.pinning is None)


async def test_a_rejected_plan_leaves_the_old_plan_ringing_and_the_poller_alive() -> None:
    app = fresh_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await live(pilot)
        plan = app.lab.plan()
        app.session.set_plan([*plan[:1], SlotSpec(Bus.MMIO, 0x1_0000_0000, 4, 0x0, 32)])
        log = app.query_one("#log")
        await wait_for(pilot, lambda: any("ring plan rejected" in e for e in log.entries))
        assert app.lab.plan() == plan
        assert not any("unexpected error" in e for e in log.entries)
        first = await next_snapshot(pilot)
        await wait_for(pilot, lambda: app.snapshot.total_rings > first.total_rings)
        await pilot.press("p")
        await wait_for(pilot, lambda: app.main.guest_state == "paused")


async def test_w_paces_the_plan_and_the_detail_pane_shows_wake_up_latency() -> None:
    app = fresh_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await live(pilot)
        await pilot.press("w")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.pace_us == 100.0)
        await wait_for(
            pilot,
            lambda: any(
                r.wake is not None and r.wake.samples > 20 for r in app.snapshot.registrations
            ),
            timeout=20,
        )
        snap = app.snapshot
        if snap.wake_note is None:
            line = str(app.query_one("#detail-wake", Static).render())
            assert "wake-up (paced 100 µs, reader epoll): p50" in line
        for reg in snap.registrations:  # every signal a sample or counted, even with readings
            assert reg.wake is None or reg.wake.samples + reg.wake.discarded == reg.signals
        await pilot.press("w")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.pace_us is None)


async def test_v_restarts_with_two_vcpus_that_share_the_eventfds_and_balance() -> None:
    app = fresh_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await live(pilot)
        await pilot.press("v")
        await wait_for(
            pilot,
            lambda: (
                app.snapshot is not None
                and app.snapshot.vcpus == 2
                and app.snapshot.checkpoint is not None
                and app.snapshot.total_rings > 0
            ),
            timeout=20,
        )
        await wait_for(
            pilot,
            lambda: all(
                len(d.per_vcpu) == 2 and all(v.rings > 0 for v in d.per_vcpu)
                for d in app.snapshot.doorbells
            ),
        )
        snap = app.snapshot
        assert snap.checkpoint.conserved and snap.checkpoint.attribution_ok
        assert {r.spec for r in snap.registrations} == set(app.lab.registrations().values())
        table = app.query_one("#doorbells")
        assert "vcpus" in list(table.columns)
        await pilot.press("v")
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.vcpus == 1)
        await wait_for(pilot, lambda: "vcpus" not in list(table.columns))


async def test_a_lost_count_turns_the_live_check_red_and_is_logged_at_once() -> None:
    from iofdtui.engine.native import lib

    app = fresh_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await live(pilot)
        lab = app.lab
        # The baseline doorbell's slot (its counter page), as a reading names it.
        index = next(
            slot.index
            for slot in app.snapshot.slots
            if (slot.spec.bus, slot.spec.addr) == BASELINE_PIO
        )
        # Make the guest claim three rings at the baseline doorbell that nobody counted.
        with lab.paused():
            page = lib.CTR_BASE + index * lib.CTR_STRIDE
            for offset in (lib.CTR_RINGS, lib.CTR_ISSUED):
                lab.poke_guest(page + offset, lab.peek_guest(page + offset) + 3)
        log = app.query_one("#log")
        await wait_for(
            pilot, lambda: any("conservation broken at pio 0x0600" in e for e in log.entries)
        )
        # While the guest runs, rings in flight can hide the three (the bracket
        # allows them): parked, none are in flight, and the cell must say it.
        lab.pause()
        await wait_for(pilot, lambda: app.snapshot.state == "paused")
        table = app.query_one("#doorbells")
        cell = table.get_cell("pio:600", "live")
        assert cell.plain.strip() == "✗ -3"
        assert not doorbell(app.snapshot, BASELINE_PIO).live_ok
