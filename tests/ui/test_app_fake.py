"""Behaviour that needs no VM: start-up failure, palette, sort and filter (fake lab)."""

from __future__ import annotations

import errno
import itertools
from typing import ClassVar

from textual import events
from textual.command import CommandPalette
from textual.widgets import Input, Static

from iofdtui.engine.errors import LabClosed
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import VcpuCounts
from iofdtui.engine.zone_stats import ZoneSpec
from iofdtui.ui.app import EXIT_NO_VM, IofdApp, make_app
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.help import HelpScreen
from iofdtui.ui.screens.ring_plan import RingPlanScreen
from iofdtui.ui.screens.startup_error import StartupErrorScreen
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.lab_header import LabHeader
from iofdtui.ui.widgets.plan_line import PlanLine
from iofdtui.ui.widgets.registrations_table import RegistrationsTable
from tests.ui.conftest import outcomes, wait_for
from tests.ui.fake_lab import PLAN, FakeLab, fixed_clock, no_kvm


def app_with(factory=FakeLab) -> IofdApp:  # type: ignore[no-untyped-def]
    return make_app(factory, refresh_interval=0.05, clock=fixed_clock)


async def test_no_kvm_shows_the_cause_in_app_and_exits_with_status_2() -> None:
    app = app_with(no_kvm)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StartupErrorScreen))
        assert app.startup_error is not None and "/dev/kvm does not exist" in app.startup_error
        assert "\n" not in app.startup_error, "one line"
        assert app.main.check_action("add", ()) is None, "no lab, no engine actions"
        await pilot.press("q")
    assert app.return_code == EXIT_NO_VM


async def test_the_palette_offers_resume_only_while_paused() -> None:
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        titles = [t for t, _h, _cb in IofdCommands(app.screen).available()]
        assert "Pause guest" in titles and "Resume guest" not in titles
        app.main.guest_state = "paused"
        titles = [t for t, _h, _cb in IofdCommands(app.screen).available()]
        assert "Resume guest" in titles and "Pause guest" not in titles
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"reset", "enter")
        await wait_for(
            pilot, lambda: any("counters reset" in e for e in app.query_one("#log").entries)
        )


async def test_filter_and_sort_keep_the_cursor_on_its_registration() -> None:
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        table = app.query_one(RegistrationsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        table.move_cursor(row=1)
        await pilot.pause()
        assert table.selected_id == 2
        await pilot.press("o")  # address: pio 0x3f8 first, still
        await pilot.press("o")  # signals: equal, then by id
        assert app.main.sort_key == "signals"
        assert table.selected_id == 2
        await pilot.press("f")
        await wait_for(pilot, lambda: isinstance(app.screen, FilterPrompt))
        await pilot.press(*"fe00", "enter")
        await wait_for(pilot, lambda: table.row_count == 1)
        assert table.selected_id == 2
        assert "filter 'fe00': 1 of 2" in str(table.border_subtitle)


class TwoVcpuLab(FakeLab):
    """The fixed snapshot, rung by two vCPUs (the first has a third of every count)."""

    def snapshot(self):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        from tests.ui.fake_lab import SNAPSHOT

        def split(door):  # type: ignore[no-untyped-def]
            first = VcpuCounts(0, door.rings // 3, door.exits // 3, door.rings // 3)
            rest = VcpuCounts(1, door.rings - first.rings, door.exits - first.exits)
            return replace(door, issued=door.rings, per_vcpu=(first, rest))

        return replace(SNAPSHOT, vcpus=2, doorbells=tuple(split(d) for d in SNAPSHOT.doorbells))


async def test_two_vcpus_split_shows_rings_and_exits_only_where_it_fits() -> None:
    app = app_with(TwoVcpuLab)
    async with app.run_test(size=(170, 45)) as pilot:
        table = app.query_one("#doorbells")

        def headers() -> dict[str, str]:
            return {c.key: c.label.plain.strip() for c in table.columns.values()}

        await wait_for(pilot, lambda: "vcpus" in headers())
        assert headers()["vcpus"] == "vCPU:rings" and "misses" not in headers()
        assert table.get_cell("pio:600", "vcpus").plain.strip() == "0:44.8k 1:89.6k"
        await pilot.resize_terminal(250, 45)
        await wait_for(pilot, lambda: "misses" in headers())
        assert headers()["vcpus"] == "vCPU:rings/exits"
        assert table.get_cell("pio:600", "vcpus").plain.strip() == "0:44.8k/44.8k 1:89.6k/89.6k"


# ------------------------------------------------------------ reader modes (issue 15)


def header_text(app: IofdApp) -> str:
    return app.query_one(LabHeader).render().plain


def log_lines(app: IofdApp) -> list[str]:
    return app.query_one(EventLog).entries


async def test_c_cycles_none_poll_epoll_and_the_header_names_each() -> None:
    app = app_with()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert "reader epoll" in header_text(app)
        for mode in ("none", "poll", "epoll"):
            await pilot.press("c")
            await wait_for(pilot, lambda m=mode: app.snapshot.consumer == m)
            await wait_for(pilot, lambda m=mode: f"reader {m}" in header_text(app))
        models = [line for line in log_lines(app) if " reader " in line]
        assert [m.split("reader ")[1].split(":")[0] for m in models] == ["none", "poll", "epoll"]
        assert "pci-testdev" in models[0] and "busy-polls" in models[1] and "sleeps" in models[2]
        titles = [t for t, _h, _cb in IofdCommands(app.screen).available()]
        assert "Cycle eventfd reader" in titles


async def test_the_detail_pane_shows_every_reader_measured_and_why() -> None:
    app = app_with()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        for mode in ("none", "poll", "epoll"):
            await pilot.press("c")
            await wait_for(pilot, lambda m=mode: app.snapshot.consumer == m)
        await wait_for(pilot, lambda: set(app.main.reader_histograms) == {"none", "poll", "epoll"})
        await pilot.pause(0.1)
        costs = str(app.query_one("#detail-costs", Static).render())
        rows = {line.lstrip("█").split()[0]: line for line in costs.splitlines()[1:]}
        assert set(rows) == {"none", "poll", "▸epoll", "exit"}
        assert "610ns" in rows["none"] and "690ns" in rows["poll"] and "1.47µs" in rows["▸epoll"]
        assert "6.77µs" in rows["exit"]
        assert "per ring" in costs.splitlines()[0], "what one sample is"
        why = str(app.query_one("#detail-why", Static).render())
        # 9,804 wake-ups of 11,253 signals; 41 preemptions and 3.12 ms queued over 55,225 rings.
        assert "871" in why and "0.74" in why and "56ns" in why
        legend = app.query_one("#detail-latency").render().plain.splitlines()[0]
        assert all(name in legend for name in ("none n=1,024", "poll n=996", "epoll n=263"))
        # A reset keeps only the reader in force.
        await pilot.press("r")
        await wait_for(pilot, lambda: set(app.main.reader_histograms) == {"epoll"})


async def test_paced_the_detail_pane_shows_the_kick_beside_the_wake_up() -> None:
    app = app_with()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("w")
        await wait_for(pilot, lambda: app.snapshot.pace_us == 100.0)
        await wait_for(pilot, lambda: "per kick" in str(app.query_one("#detail-costs").render()))
        costs = str(app.query_one("#detail-costs", Static).render())
        assert "7.90µs" in costs and "8.90µs" in costs  # its kick, and the exit's
        assert "wake-up (paced 100 µs, reader epoll): p50 25.4µs" in str(
            app.query_one("#detail-wake", Static).render()
        )
        table = app.query_one(RegistrationsTable)
        assert "kick" in str(table.border_title)
        assert table.get_cell("1", "p50").plain.strip() == "7.90µs"  # like for like with base50
        assert table.get_cell("1", "base_p50").plain.strip() == "8.90µs"


async def test_the_pin_command_pins_and_the_header_says_where() -> None:
    app = app_with()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert "pinned" not in header_text(app)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"pin vcpu", "enter")
        await wait_for(pilot, lambda: "pinned vCPU→CPU1 · reader, UI→CPU0" in header_text(app))
        assert any("pinned: vCPU→CPU1" in line for line in log_lines(app))
        app.action_toggle_pinning()
        await wait_for(pilot, lambda: "pinned" not in header_text(app))


class OneCpuLab(FakeLab):
    """A machine with one CPU: pinning is refused."""

    cpus = 1


async def test_pin_at_start_and_its_refusal_on_one_cpu() -> None:
    app = make_app(FakeLab, refresh_interval=0.05, clock=fixed_clock, pin=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: "pinned vCPU→CPU1" in header_text(app))
    app = make_app(OneCpuLab, refresh_interval=0.05, clock=fixed_clock, pin=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: any("not pinned" in line for line in log_lines(app)))
        assert any("needs at least 2 CPUs" in line for line in log_lines(app))
        assert app.lab is not None and "pinned" not in header_text(app), "the app runs unpinned"


# ------------------------------------------------------------ crash paths (issue 9)


class StartFails(FakeLab):
    """`start()` fails with a bare OSError, as a refused thread or mmap would."""

    built: ClassVar[list[StartFails]] = []

    def __init__(self, vcpus: int = 1) -> None:
        super().__init__(vcpus)
        StartFails.built.append(self)

    def start(self) -> None:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")


async def test_a_bare_oserror_at_start_closes_the_lab_and_exits_2() -> None:
    StartFails.built.clear()
    app = app_with(StartFails)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StartupErrorScreen))
        assert app.startup_error is not None and "\n" not in app.startup_error
        assert "Resource temporarily unavailable" in app.startup_error
        assert [lab.closed for lab in StartFails.built] == [True]
        await pilot.press("q")
    assert app.return_code == EXIT_NO_VM


async def test_keys_typed_right_after_a_reach_the_form() -> None:
    app = app_with()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        # All at once, as a terminal delivers a fast typist's keys.
        for char in "a0x600":
            app.post_message(events.Key(char, char))
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#addr", Input).value == "0x600")


async def test_with_two_vcpus_the_plan_editor_lists_each_write_once() -> None:
    app = app_with(lambda vcpus: FakeLab(2))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.vcpus == 2)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RingPlanScreen))
        await wait_for(pilot, lambda: len(app.screen.query(PlanLine)) == len(PLAN))
        await pilot.pause()
        assert not app.screen.query_one("#apply").disabled


class ClosingLab(FakeLab):
    """A lab closed under the screen (as `v` closes the old VM while it swaps)."""

    @property
    def shared_plan(self) -> list[SlotSpec] | None:
        raise LabClosed()


async def test_the_plan_editor_opens_on_the_shown_plan_when_the_lab_is_closing() -> None:
    app = app_with(lambda vcpus: ClosingLab(2))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.vcpus == 2)
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, RingPlanScreen))
        assert app.screen.plan == list(PLAN)


async def test_a_rejected_plan_is_one_line_and_the_old_plan_rings_on() -> None:
    app = app_with()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        bad = [*PLAN[:1], SlotSpec(Bus.MMIO, 0x1_0000_0000, 4, 0x0, 32)]
        app.session.set_plan(bad)
        await wait_for(pilot, lambda: any("ring plan rejected" in e for e in log_lines(app)))
        assert app.lab.plan() == list(PLAN), "never left without a plan"
        assert not any("unexpected error" in e for e in log_lines(app))
        seen = app.snapshot
        await wait_for(pilot, lambda: app.snapshot is not seen)  # the poller lives on


class ReadingFails(FakeLab):
    """Two readings fail with something no engine error covers, then it recovers."""

    def __init__(self, vcpus: int = 1) -> None:
        super().__init__(vcpus)
        self.failures = 2

    def snapshot(self):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise KeyError(1)
        return super().snapshot()


async def test_an_unexpected_error_in_a_reading_never_kills_the_poller() -> None:
    app = make_app(ReadingFails, refresh_interval=0.05, checkpoint_every=0.05, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None, timeout=10)
        failed = [e for e in log_lines(app) if "reading the counters failed" in e]
        assert len(failed) == 1 and "KeyError: 1" in failed[0], "said once, in one line"
        assert not any("unexpected error" in e for e in log_lines(app))


async def test_w_with_two_vcpus_says_press_v() -> None:
    app = app_with(lambda vcpus: FakeLab(2))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("w")
        await wait_for(pilot, lambda: any("press v first" in e for e in log_lines(app)))
        assert not any("Lab(vcpus=1)" in e for e in log_lines(app))
        assert app.lab.pace_us is None


async def test_v_says_it_turned_paced_mode_off_and_renumbered() -> None:
    app = app_with()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        app.session.remove(1)
        app.session.add(RegistrationSpec(Bus.PIO, 0x600, 1))  # #3
        await wait_for(pilot, lambda: set(app.lab.registrations()) == {2, 3})
        await pilot.press("w")
        await wait_for(pilot, lambda: app.lab.pace_us == 100.0)
        await pilot.press("v")
        await wait_for(pilot, lambda: any("new VM with 2 vCPUs" in e for e in log_lines(app)))
        line = next(e for e in log_lines(app) if "new VM with 2 vCPUs" in e)
        assert "renumbered #2→#1, #3→#2" in line
        assert any("paced mode off" in e for e in log_lines(app))


async def test_v_takes_the_coalesced_zones_to_the_new_vm() -> None:
    app = app_with()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        app.session.add(ZoneSpec(Bus.PIO, 0x600, 8))
        await wait_for(pilot, lambda: bool(app.lab.zones()))
        await pilot.press("v")
        await wait_for(pilot, lambda: any("new VM with 2 vCPUs" in e for e in log_lines(app)))
        assert list(app.lab.zones().values()) == [ZoneSpec(Bus.PIO, 0x600, 8)]
        assert app.lab.vcpus == 2


async def test_rapid_p_logs_one_line_per_change_of_state() -> None:
    app = app_with()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        for _ in range(6):
            app.post_message(events.Key("p", "p"))
        await pilot.pause(0.5)
        lines = [e.split(" ", 1)[1] for e in log_lines(app) if "guest " in e]
        kinds = ["paused" if "paused" in e else "resumed" for e in lines]
        assert kinds and all(a != b for a, b in itertools.pairwise(kinds)), lines
        assert kinds[-1] == ("paused" if app.lab.state == "paused" else "resumed")


async def test_a_small_terminal_keeps_q_and_h_in_view() -> None:
    app = app_with()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.pause()
        footer = app.query_one("#keys")
        footer_keys = {getattr(k, "key", None): k for k in footer.children}
        for key in ("q", "h", "c"):
            region = footer_keys[key].region
            assert region.width and region.right <= 80, f"{key} in the 80-column footer"
        await pilot.resize_terminal(40, 12)
        await wait_for(pilot, lambda: app.query_one("#tiny-keys").display)
        await pilot.pause()
        assert not app.query_one("#keys").display
        line = app.query_one("#tiny-keys", Static)
        assert line.region.bottom == 12 and line.region.width == 40
        assert "q quit · h help" in str(line.render())
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_d_pressed_again_before_the_table_catches_up_removes_once() -> None:
    """A second d on the same row while its removal is in flight is not a new request
    (it used to fail with "no registration #1" and an error toast)."""
    import threading

    from iofdtui.engine.errors import EngineError
    from iofdtui.ui.messages import EngineFailed

    calls: list[int] = []
    release = threading.Event()

    class SlowRemoval(FakeLab):
        def remove_registration(self, reg_id: int):  # type: ignore[no-untyped-def]
            calls.append(reg_id)
            release.wait(5)
            if reg_id not in self.regs:
                raise EngineError(errno.ENOENT, f"no registration #{reg_id}")
            return super().remove_registration(reg_id)

    messages: list[object] = []
    app = app_with(SlowRemoval)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.registrations)
        await pilot.press("d")
        await pilot.press("d")
        await pilot.press("d")
        release.set()
        await wait_for(pilot, lambda: len(calls) >= 1 and not app.session.removing, timeout=10)
        await pilot.pause(0.2)
    assert len(calls) == 1, calls
    assert not any(isinstance(m, EngineFailed) for m in messages)


# ------------------------------------------------------ errors shown (issue 13)

FAULT = "KVM_EXIT_SHUTDOWN: triple fault (eip=0x1010 eax=0x3f8 edx=0x600)"


class FaultingLab(FakeLab):
    """The guest faults: every reading says so, with the registers."""

    def snapshot(self):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        return replace(super().snapshot(), state="faulted", fault=FAULT)


async def test_a_guest_fault_shows_its_registers_in_an_error_modal() -> None:
    from iofdtui.ui.screens.error_modal import ErrorModal

    app = app_with(FaultingLab)
    async with app.run_test(size=(120, 40)) as pilot:
        # Pushed, then composed: wait for its text, not only for the screen.
        await wait_for(
            pilot, lambda: isinstance(app.screen, ErrorModal) and app.screen.query("#error-text")
        )
        modal = app.screen
        assert isinstance(modal, ErrorModal)
        assert modal.error_title == "Guest fault"
        assert "eip=0x1010" in str(modal.query_one("#error-text", Static).render())
        faults = [e for e in log_lines(app) if "guest faulted" in e]
        assert len(faults) == 1 and FAULT in faults[0] and "\n" not in faults[0]
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ErrorModal))
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ErrorModal), "shown once, not at every reading"


async def test_a_failed_action_is_one_line_titled_by_the_error() -> None:
    from iofdtui.engine.errors import PauseTimeout
    from iofdtui.ui.messages import EngineFailed

    class Unresponsive(FakeLab):
        def pause(self, timeout: float = 2.0) -> bool:
            raise PauseTimeout(errno.ETIMEDOUT, "the guest did not park within 2 s; try again")

    messages: list[object] = []
    app = app_with(Unresponsive)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("p")
        await wait_for(pilot, lambda: any(isinstance(m, EngineFailed) for m in messages))
        [failed] = [m for m in messages if isinstance(m, EngineFailed)]
        assert failed.title == "Guest unresponsive"  # PauseTimeout.title
        assert failed.message == "the guest did not park within 2 s; try again"
        await wait_for(pilot, lambda: any("pausing the guest failed" in e for e in log_lines(app)))
        assert not any("unexpected error" in e for e in log_lines(app))


def test_footer_palette_and_help_are_built_from_one_table() -> None:
    from iofdtui.ui.bindings import COMMANDS, bindings, keys_markdown, palette
    from iofdtui.ui.screens.help import HELP
    from iofdtui.ui.screens.main import MainScreen

    shown = [b.key for b in MainScreen.BINDINGS + IofdApp.BINDINGS if b.show]  # type: ignore[union-attr]
    assert shown == ["a", "d", "e", "p", "p", "r", "c", "f", "x", "h", "q"]
    scopes = ("main", "app", "replay", "tour")
    assert {b.action for scope in scopes for b in bindings(scope)} == {  # type: ignore[union-attr]
        c.action for c in COMMANDS if c.key
    }
    live = sorted(c.title for c in COMMANDS if c.scope != "replay")  # the timeline's: replay only
    assert sorted(c.title for c, _help in palette()) == live
    # The palette keeps the order it had before the restructuring.
    assert [c.action for c, _help in palette()][6:11] == [
        "cycle_reader",
        "toggle_pinning",
        "toggle_pace",
        "toggle_vcpus",
        "cycle_interval",
    ]
    helps = dict((c.action, h) for c, h in palette())
    assert helps["sort"] == "Sort by id, address, signals, rate, p50, ratio (o)"
    assert helps["toggle_pinning"].endswith("again to unpin"), "no key, no parentheses"
    assert keys_markdown() in HELP
    assert "`d`/Delete remove" in HELP and "`h`/`?` help" in HELP
    assert "footer shows `a d e p r c f x h q`; `z s w v o i W S R T` are in the palette" in HELP


async def test_the_add_form_registers_and_closes_and_a_refusal_keeps_it_open() -> None:
    from iofdtui.engine.errors import RegistrationRejected
    from iofdtui.ui.messages import RegistrationAdded

    class Refusing(FakeLab):
        refuse = False

        def add_registration(self, spec: RegistrationSpec) -> int:
            if self.refuse:
                raise RegistrationRejected(errno.ENOSPC, "ENOSPC: the bus is full", "addr")
            return super().add_registration(spec)

    messages: list[object] = []
    app = app_with(Refusing)
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        await pilot.press(*"0x600", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, AddRegistrationScreen))
        [added] = outcomes(messages, RegistrationAdded)
        assert added.reg_id == 3 and added.spec == RegistrationSpec(Bus.PIO, 0x600, 1)
        assert any("registered #3 pio 0x0600/1" in e for e in log_lines(app))
        # The kernel's refusal after submit: the form stays, says why, keeps the input.
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AddRegistrationScreen))
        app.lab.refuse = True  # type: ignore[union-attr]
        await pilot.press(*"0x601", "enter")
        form = app.screen
        await wait_for(
            pilot, lambda: "rejected: ENOSPC" in str(form.query_one("#problem", Static).render())
        )
        assert isinstance(app.screen, AddRegistrationScreen)
        assert form.query_one("#addr", Input).value == "0x601"
        assert any("rejected pio 0x0601/1 any value: ENOSPC" in e for e in log_lines(app))
