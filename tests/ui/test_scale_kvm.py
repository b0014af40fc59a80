"""The scale screen on the real engine: a tiny sweep, measured while the live guest waits."""

from __future__ import annotations

import pytest
from textual.message import Message

from iofdtui.ui.app import make_app
from iofdtui.ui.messages import GuestPaused, GuestResumed
from iofdtui.ui.scale_sweep import KvmSweep
from iofdtui.ui.screens.scale_plot import ScalePlotScreen
from iofdtui.ui.widgets.scale_plot import ScalePlot
from tests.ui.conftest import outcomes, wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm


TINY = KvmSweep(seconds=0.05, sizes=(1, 10), trigger_counts=(1, 8))


async def test_a_tiny_sweep_plots_measured_points_and_the_live_guest_resumes() -> None:
    messages: list[Message] = []
    app = make_app(refresh_interval=0.1, scale_sweep=TINY)
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ScalePlotScreen))
        screen = app.screen
        assert isinstance(screen, ScalePlotScreen)
        await wait_for(pilot, lambda: screen.report is not None, timeout=60.0)
        assert screen.report is not None and not screen.report.notes
        assert [(p.series, p.n) for p in screen.points] == [
            ("decoys", 1),
            ("decoys", 10),
            *((s, k) for k in (1, 8) for s in ("hit-first", "hit-last", "miss")),
        ]
        for point in screen.points:
            assert point.exact and point.rings > 0, point
            assert point.latency.samples > 0 and point.latency.p50_ns is not None
        plotted = screen.query_one("#walk-plot", ScalePlot).series
        assert sum(len(s.points) for s in plotted) == 6
        # The live guest waited for the sweep and still waits while the plot is shown.
        assert outcomes(messages, GuestPaused)
        assert app.lab is not None and app.lab.state == "paused"
        await pilot.press("escape")
        await wait_for(pilot, lambda: outcomes(messages, GuestResumed))
        await wait_for(pilot, lambda: app.lab is not None and app.lab.state == "running")
        before = app.snapshot.total_rings if app.snapshot else 0
        await wait_for(pilot, lambda: app.snapshot and app.snapshot.total_rings > before)


async def test_an_open_file_limit_keeps_the_points_measured_below_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """`ulimit -n 300`: 512 trigger values cannot be registered; what was measured stays."""
    import resource

    from iofdtui.engine.experiments import scale

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    monkeypatch.setattr(scale, "_raise_fd_limit", lambda needed, notes: 300)
    sweep = KvmSweep(seconds=0.05, sizes=(1, 10), trigger_counts=(1, 512))
    app = make_app(refresh_interval=0.1, scale_sweep=sweep)
    resource.setrlimit(resource.RLIMIT_NOFILE, (300, hard))
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await live(pilot)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ScalePlotScreen))
            screen = app.screen
            assert isinstance(screen, ScalePlotScreen)
            await wait_for(pilot, lambda: screen.report is not None, timeout=60.0)
            assert [(p.series, p.n) for p in screen.points] == [
                ("decoys", 1),
                ("decoys", 10),
                ("hit-first", 1),
                ("hit-last", 1),
                ("miss", 1),
            ]
            assert all(p.exact and p.rings > 0 for p in screen.points)
            explain = str(screen.query_one("#scale-explain").render())
            assert "stopped before 512 trigger values: the open-file limit is 300" in explain
            await pilot.press("q")
            await wait_for(pilot, lambda: not isinstance(app.screen, ScalePlotScreen))
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
