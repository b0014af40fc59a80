"""The round-trip screen (`i`) against a fake run: stage bars, the table, a refusal."""

from __future__ import annotations

import io

from rich.console import Console
from textual.message import Message
from textual.widgets import Static

from iofdtui.engine.roundtrip_figures import (
    RoundTripCounts,
    RoundTripReport,
    RoundTripResult,
    StageFigures,
)
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.messages import GuestPaused, GuestResumed
from iofdtui.ui.screens.roundtrip import RoundTripScreen
from iofdtui.ui.widgets.stage_bars import StageBars, bar_cells
from tests.ui.conftest import outcomes, wait_for
from tests.ui.fake_lab import FakeLab, fixed_clock


def _result(
    path: str, total: float, stages: tuple[float, ...], exact: bool = True
) -> RoundTripResult:
    kicks = 1000
    counts = RoundTripCounts(
        kicks=kicks,
        handler_runs=kicks if exact else kicks - 1,
        other_irqs=0,
        signals=kicks if path == "ioeventfd" else 0,
        reads=kicks if path == "ioeventfd" else 0,
        coalesced=0,
        completions=kicks if path != "self-ipi" else 0,
        completion_errors=0,
        merged=0,
        user_exits=kicks if path == "user" else 0,
        resamples=0,
    )
    names = ("awake", "written", "handler")
    return RoundTripResult(
        path=path,
        bus="lapic" if path == "self-ipi" else "pio",
        route="self" if path == "self-ipi" else "msi",
        reader="epoll" if path == "ioeventfd" else None,
        seconds=0.5,
        counts=counts,
        exact=exact,
        samples=kicks,
        total=StageFigures(total, total * 3, total * 1.5),
        stages={n: StageFigures(v, v * 2, v) for n, v in zip(names, stages, strict=False)},
        negative=0,
        kernel={"halt_exits": kicks, "irq_injections": kicks},
    )


REPORT = RoundTripReport(
    machine={"emulated": True, "emulation_note": "kvm_pvm emulates", "clock_note": None},
    work_us=0.0,
    results=(
        _result("ioeventfd", 30_000.0, (10_000.0, 1_000.0, 19_000.0)),
        _result("user", 20_000.0, (5_000.0, 50.0, 14_950.0)),
        _result("self-ipi", 10_000.0, ()),
    ),
)


class FakeRoundTrip:
    seconds = 0.5

    def __init__(self, fail: str | None = None) -> None:
        self.runs = 0
        self.fail = fail

    def run(self, progress):  # type: ignore[no-untyped-def]
        self.runs += 1
        progress("ioeventfd, reader epoll")
        if self.fail:
            from iofdtui.engine.roundtrip import CompletionsUnsupported

            raise CompletionsUnsupported(95, self.fail)
        return REPORT


def app_with(port: FakeRoundTrip, labs: list[FakeLab]) -> IofdApp:
    def factory(vcpus: int = 1) -> FakeLab:
        labs.append(FakeLab(vcpus))
        return labs[-1]

    return make_app(factory, refresh_interval=0.05, clock=fixed_clock, roundtrip=port)


def test_bar_cells_follow_the_running_sum() -> None:
    assert bar_cells([1.0, 1.0, 1.0], 3.0, 10) == [3, 4, 3]
    assert sum(bar_cells([10.0, 0.0, 20.0], 60.0, 30)) == 15
    assert bar_cells([5.0], 0.0, 10) == [0]


async def test_i_draws_each_path_as_stacked_stages_and_holds_the_live_guest() -> None:
    messages: list[Message] = []
    port, labs = FakeRoundTrip(), []
    app = app_with(port, labs)
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        titles = [t for t, _h, _cb in IofdCommands(app.screen).available()]
        assert "Round trip: kick → interrupt" in titles
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, RoundTripScreen))
        screen = app.screen
        assert isinstance(screen, RoundTripScreen)
        await wait_for(pilot, lambda: screen.report is not None)
        assert labs[0].state == "paused" and outcomes(messages, GuestPaused)
        # The note says what holds the live guest: the round trip, not a sweep.
        live_note = str(screen.query_one("#rt-live").render())
        assert "paused for the round trip" in live_note and "sweep" not in live_note
        bars = screen.query_one(StageBars)
        lines = str(bars.render()).splitlines()
        assert lines[1].startswith("pio ioeventfd→irqfd (epoll)") and "p50 30.0µs" in lines[1]
        assert lines[3].startswith("self-IPI (floor)") and "p50 10.0µs" in lines[3]
        # One scale: the longest stack fills the bar, the others in proportion.
        lengths = [line.count("█") for line in lines[1:]]
        assert lengths[0] > lengths[1] > lengths[2] > 0
        assert abs(lengths[1] / lengths[0] - 20 / 30) < 0.05
        console = Console(width=160, record=True, file=io.StringIO())
        console.print(screen.query_one("#rt-table", Static).content)
        table = console.export_text()
        assert "30,000" in table and "✓" in table
        assert "done: every kick answered once" in str(screen.query_one("#rt-status").render())
        await pilot.press("r")
        await wait_for(pilot, lambda: port.runs == 2 and not screen.running)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RoundTripScreen))
        await wait_for(pilot, lambda: outcomes(messages, GuestResumed))
        assert labs[0].state == "running"


async def test_a_kernel_without_irqfd_is_one_line_on_the_screen() -> None:
    line = "this kernel's KVM lacks KVM_CAP_IRQFD, which completion interrupts need"
    messages: list[Message] = []
    port, labs = FakeRoundTrip(fail=line), []
    app = app_with(port, labs)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, RoundTripScreen))
        screen = app.screen
        await wait_for(pilot, lambda: not screen.running)  # type: ignore[attr-defined]
        status = str(screen.query_one("#rt-status").render())
        assert line in status and "\n" not in status.strip()
        await pilot.press("q")
        await wait_for(pilot, lambda: not isinstance(app.screen, RoundTripScreen))
        await wait_for(pilot, lambda: outcomes(messages, GuestResumed))  # let go on closing
