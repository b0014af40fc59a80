"""The header and the detail pane draw again only what a reading changed."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult

from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.widgets.cost_histograms import CostHistograms
from iofdtui.ui.widgets.lab_header import LabHeader
from iofdtui.ui.widgets.rate_sparkline import RateSparkline
from iofdtui.ui.widgets.registration_detail import (
    DetailHistograms,
    DetailLine,
    RegistrationDetail,
)
from iofdtui.ui.widgets.scale_plot import ScalePlot, Series
from tests.ui.fake_lab import IOEVENTFD_HIST, SNAPSHOT, USERSPACE_HIST
from tests.ui.render_count import count_renders, paint

PARTS = ("detail-title", "detail-costs", "detail-why", "detail-rate", "detail-latency")


class Host(App[None]):
    CSS = "RegistrationDetail { height: 30; }"

    def compose(self) -> ComposeResult:
        yield LabHeader()
        yield RegistrationDetail()


def histograms(current: list[tuple[float, int]] = IOEVENTFD_HIST) -> DetailHistograms:
    """A reading's histograms, as fresh lists (the poller reads new ones every time)."""
    return DetailHistograms(list(current), list(USERSPACE_HIST), {}, [])


def show(app: Host, snap: Snapshot, rates: list[float], hist: DetailHistograms) -> None:
    app.query_one(RegistrationDetail).show(snap.registrations[0], list(rates), 60.0, hist, snap)


def paint_all(app: Host) -> None:
    paint(app.query_one(LabHeader), app.query_one(RegistrationDetail))
    paint(*app.query(DetailLine), app.query_one(RateSparkline), app.query_one(CostHistograms))


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    renders = count_renders(monkeypatch, LabHeader, RegistrationDetail, DetailLine, CostHistograms)
    # The sparkline draws through the Line API: count its lines drawn.
    return count_renders(monkeypatch, RateSparkline, method="render_line", into=renders)


async def test_a_reading_that_shows_the_same_draws_nothing_again(renders) -> None:  # type: ignore[no-untyped-def]
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        header = app.query_one(LabHeader)
        header.snapshot = SNAPSHOT
        show(app, SNAPSHOT, [100.0, 200.0], histograms())
        await pilot.pause()
        paint_all(app)
        for part in ("LabHeader", "RegistrationDetail", *PARTS):
            assert renders[part] >= 1, part
        before = renders.copy()
        # The next reading: another instant, equal figures (a paused guest, a quiet queue).
        later = replace(SNAPSHOT, taken_at=SNAPSHOT.taken_at + 0.25)
        header.snapshot = later
        show(app, later, [100.0, 200.0], histograms())
        await pilot.pause()
        paint_all(app)
        assert renders == before


async def test_what_a_reading_changes_is_drawn_again_and_nothing_else(renders) -> None:  # type: ignore[no-untyped-def]
    app = Host()
    async with app.run_test(size=(160, 45)) as pilot:
        header = app.query_one(LabHeader)
        header.snapshot = SNAPSHOT
        show(app, SNAPSHOT, [100.0, 200.0], histograms())
        await pilot.pause()
        paint_all(app)
        # More samples in one bucket: the histograms change, no line of text does.
        before = renders.copy()
        more = [*IOEVENTFD_HIST[:-1], (7_240.0, 24)]
        show(app, SNAPSHOT, [100.0, 200.0], histograms(more))
        await pilot.pause()
        paint_all(app)
        assert renders["detail-latency"] > before["detail-latency"]
        unchanged = ("LabHeader", "RegistrationDetail", *PARTS[:-1])
        assert all(renders[p] == before[p] for p in unchanged)
        # A new rate point below the peak: the sparkline alone (the title gives the peak).
        before = renders.copy()
        show(app, SNAPSHOT, [100.0, 200.0, 150.0], histograms(more))
        await pilot.pause()
        paint_all(app)
        assert renders["detail-rate"] > before["detail-rate"]
        assert all(renders[p] == before[p] for p in PARTS if p != "detail-rate")
        # The guest pauses: the header says so, the pane's lines stay.
        before = renders.copy()
        paused = replace(SNAPSHOT, state="paused")
        header.snapshot = paused
        await pilot.pause()
        paint_all(app)
        assert renders["LabHeader"] > before["LabHeader"]
        assert "guest paused" in header.render().plain
        # Paced: the pane's subtitle, lines and histograms change.
        before = renders.copy()
        paced = replace(SNAPSHOT, pace_us=100.0)
        show(app, paced, [100.0, 200.0, 150.0], histograms(more))
        await pilot.pause()
        paint_all(app)
        detail = app.query_one(RegistrationDetail)
        assert "paced" in str(detail.border_subtitle)
        for part in ("RegistrationDetail", "detail-costs", "detail-latency"):
            assert renders[part] > before[part], part
        assert "per kick" in str(app.query_one("#detail-costs", DetailLine).render())


class PlotHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ScalePlot((1, 10, 100))


async def test_the_scale_plot_draws_a_curve_again_only_when_a_point_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    renders = count_renders(monkeypatch, ScalePlot)
    app = PlotHost()
    async with app.run_test(size=(80, 20)) as pilot:
        plot = app.query_one(ScalePlot)
        plot.series = (Series("p50", ((1.0, 1_900.0), (10.0, 2_000.0))),)
        await pilot.pause()
        paint(plot)
        first = renders["ScalePlot"]
        assert first >= 1
        plot.series = (Series("p50", ((1.0, 1_900.0), (10.0, 2_000.0))),)
        await pilot.pause()
        paint(plot)
        assert renders["ScalePlot"] == first
        plot.series = (Series("p50", ((1.0, 1_900.0), (10.0, 2_000.0), (100.0, 2_100.0))),)
        await pilot.pause()
        paint(plot)
        assert renders["ScalePlot"] > first
