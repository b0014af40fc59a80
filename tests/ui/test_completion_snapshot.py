"""SVG snapshot: a registration with a completion, selected (fake lab, no /dev/kvm)."""

from __future__ import annotations

from dataclasses import replace

from iofdtui.engine.completion_stats import CompletionStats
from iofdtui.engine.latency import Latency
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.widgets.completion_detail import counts_text
from tests.ui.fake_lab import FakeLab
from tests.ui.test_snapshots import fake_app, live

COMPLETION = CompletionStats(
    route="msi",
    vcpu=0,
    vector=0x40,
    gsi=24,
    kicks=12_406,
    irqfd_writes=12_406,
    write_errors=0,
    merged=0,
    handler_runs=12_405,
    resamples=None,
    device_work_us=5.0,
    awake=Latency(12_405, 10_800.0, 41_200.0, 14_100.0),
    written=Latency(12_405, 5_000.0, 5_600.0, 5_100.0),
    handler=Latency(12_405, 36_200.0, 88_000.0, 40_300.0),
    round_trip=Latency(12_405, 50_900.0, 131_000.0, 59_500.0),
)
"""A live reading's completion: one interrupt in flight."""


class CompletionLab(FakeLab):
    """The fake lab whose first registration is answered by an MSI."""

    completions_note = None

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        first = replace(snap.registrations[0], completion=COMPLETION)
        return replace(snap, registrations=(first, *snap.registrations[1:]))


def test_the_counts_line_says_what_balances() -> None:
    assert counts_text(COMPLETION) == (
        "completion: MSI → vCPU 0, vector 0x40 (GSI 24): 12,406 kicks = 12,406 irqfd writes "
        "= 12,405 handler runs (+1 in flight, device work 5.00µs) ✓"
    )
    stuck = replace(COMPLETION, handler_runs=12_400)
    assert counts_text(stuck).endswith("✗")


def test_a_completion_selected_160x45(snap_compare) -> None:
    assert snap_compare(fake_app(CompletionLab), run_before=live, terminal_size=(160, 45))


def test_a_loop_that_crosses_cpus_says_who_kicks_and_where_the_runs_landed() -> None:
    crossing = replace(COMPLETION, vcpu=1, kicker=0, runs_on=(0, 12_405))
    assert counts_text(crossing).startswith(
        "completion: MSI vCPU 0 kicks → vCPU 1, vector 0x40 (GSI 24): 12,406 kicks"
    )
    assert "(runs vCPU 0 0 · vCPU 1 12,405, +1 in flight" in counts_text(crossing)
    same = replace(COMPLETION, vcpu=1, kicker=1, runs_on=(0, 12_405))
    assert counts_text(same).startswith("completion: MSI → vCPU 1, vector")
    assert "runs vCPU" not in counts_text(same)


async def test_the_stage_legend_names_the_self_ipi_block_only_where_it_is_drawn() -> None:
    from textual.app import App, ComposeResult

    from iofdtui.ui.widgets.completion_detail import as_round_trip
    from iofdtui.ui.widgets.stage_bars import StageBars

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield StageBars()

    async with Host().run_test(size=(160, 10)) as pilot:
        bars = pilot.app.query_one(StageBars)
        bars.results = (as_round_trip(COMPLETION, "pio", "epoll"),)
        legend = bars.render().plain.splitlines()[0]
        assert "kick→awake" in legend and "no host stages" not in legend
        floor = replace(bars.results[0], path="self-ipi", stages={})
        bars.results = (bars.results[0], floor)
        assert "kick→handler (no host stages)" in bars.render().plain.splitlines()[0]


async def _two_vcpu_form(pilot) -> None:  # type: ignore[no-untyped-def]
    """The add form on the two-vCPU lab: an MSI kicked by vCPU 0, taken by vCPU 1."""
    from textual.widgets import Input, Select

    from iofdtui.ui.screens.add_registration import AddRegistrationScreen
    from tests.ui.conftest import until_live

    await until_live(pilot)
    await pilot.press("a")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, AddRegistrationScreen) and form.vcpus == 2
    form.query_one("#completion", Select).value = "msi"
    form.query_one("#vcpus", Select).value = (0, 1)
    await pilot.press(*"0x600")
    await pilot.pause()
    for field in form.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_the_two_vcpu_form_asks_who_kicks_and_who_takes_the_interrupt_80x24(
    snap_compare,
) -> None:
    from iofdtui.ui.app import make_app
    from tests.ui.fake_lab import fixed_clock

    app = make_app(CompletionLab, vcpus=2, refresh_interval=3600.0, clock=fixed_clock)
    assert snap_compare(app, run_before=_two_vcpu_form, terminal_size=(80, 24))


async def test_the_two_vcpu_form_submits_the_kicker_and_the_target() -> None:
    from iofdtui.ui.app import make_app
    from iofdtui.ui.screens.add_registration import AddRegistrationScreen
    from tests.ui.fake_lab import fixed_clock

    submitted: list[AddRegistrationScreen.Submitted] = []
    app = make_app(CompletionLab, vcpus=2, refresh_interval=3600.0, clock=fixed_clock)
    async with app.run_test(size=(80, 24), message_hook=submitted.append) as pilot:
        await _two_vcpu_form(pilot)
        form = pilot.app.screen
        assert form.query_one("#vcpus").display and form.query_one("#register").region
        await pilot.press("enter")
        await pilot.pause()
    sent = {id(m): m for m in submitted if isinstance(m, AddRegistrationScreen.Submitted)}
    assert [(m.completion, m.vcpus) for m in sent.values()] == [("msi", (0, 1))]
