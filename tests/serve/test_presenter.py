"""The presenter's app (fake lab, no server): where the lab is served, in the header
and the event log, and what the server's news does to them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from textual.pilot import Pilot

from iofdtui.serve.presenter import ServerNews, SharedLabApp, Sharing
from iofdtui.serve.server import Address
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.lab_header import LabHeader
from tests.ui.conftest import until_live, wait_for
from tests.ui.fake_lab import FakeLab, fixed_clock

URL_LINE = "⇄ shared read-only at http://127.0.0.1:8000/ · localhost only"


def presenter_app() -> SharedLabApp:
    """The presenter's app as `iofdtui serve` makes it, told it serves 127.0.0.1:8000."""
    sharing = Sharing("127.0.0.1", 8000)
    sharing.address = Address("127.0.0.1", 8000)
    sharing.recording = Path("/tmp/served/session.jsonl")
    return sharing.app(lab_factory=FakeLab, refresh_interval=3600.0, clock=fixed_clock)


def header(app: SharedLabApp) -> str:
    return app.main.query_one(LabHeader).render().plain


def log(app: SharedLabApp) -> list[str]:
    return [entry.split(" ", 1)[1] for entry in app.main.query_one(EventLog).entries]


async def news(pilot: Pilot, app: SharedLabApp, what: str, number: int) -> None:
    app.post_message(ServerNews(what, number))
    await pilot.pause()


async def test_the_header_and_the_log_say_where_and_who_watches() -> None:
    app = presenter_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert header(app).splitlines()[-1] == f"{URL_LINE} · 0 watching"
        assert (
            "serving this lab read-only at http://127.0.0.1:8000/ (localhost only: pass "
            "--host 0.0.0.0 to let teammates on your network connect; anyone who can "
            "reach it can watch)"
        ) in log(app)
        await news(pilot, app, "visitors", 1)
        await news(pilot, app, "visitors", 2)
        await news(pilot, app, "refused", 2)
        await news(pilot, app, "visitors", 1)
        assert header(app).splitlines()[-1] == f"{URL_LINE} · 1 watching"
        assert log(app)[-4:] == [
            "a browser joined: 1 watching",
            "a browser joined: 2 watching",
            "a browser was turned away: 2 watching, the most allowed",
            "a browser left: 1 watching",
        ]


async def test_a_server_that_dies_is_said_in_the_header_and_the_log() -> None:
    app = presenter_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await news(pilot, app, "stopped", 1)
        assert header(app).splitlines()[-1].startswith("⇄ not served: the web server exited (1)")
        assert log(app)[-1].startswith("the web server exited (1)")
        assert log(app)[-1].endswith("; restart iofdtui serve to share again")


async def test_under_80_columns_the_header_stays_one_line() -> None:
    app = presenter_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        assert len(header(app).splitlines()) == 1
        assert any(line.startswith("serving this lab read-only") for line in log(app))


async def test_the_recording_visitors_follow_cannot_be_stopped() -> None:
    app = presenter_app()
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        await pilot.press("R")
        await pilot.pause()
        assert log(app)[-1] == (
            "recording kept: browsers watch this session through its recording "
            "(/tmp/served/session.jsonl); "
            "it stops when iofdtui serve does"
        )


async def two_watching(pilot: Pilot) -> None:
    """The first screenful with histograms, two browsers watching."""
    await until_live(pilot)
    for watching in (1, 2):
        await news(pilot, pilot.app, "visitors", watching)  # type: ignore[arg-type]


def test_presenter_160x45(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(presenter_app(), run_before=two_watching, terminal_size=(160, 45))


def test_presenter_80x24(snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(presenter_app(), run_before=two_watching, terminal_size=(80, 24))


async def test_a_server_killed_under_the_app_is_said_at_once(tmp_path: Path) -> None:
    recording = tmp_path / "session.jsonl"
    with Sharing("127.0.0.1", 0, record=recording, command="true") as sharing:
        app = sharing.app(lab_factory=FakeLab, refresh_interval=3600.0, clock=fixed_clock)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_for(pilot, lambda: "0 watching" in header(app))
            assert sharing.server is not None
            os.kill(sharing.server.pid, signal.SIGKILL)
            await wait_for(pilot, lambda: "not served" in header(app))
            assert (
                header(app)
                .splitlines()[-1]
                .startswith("⇄ not served: the web server was killed by SIGKILL: ")
            )
            assert log(app)[-1].endswith("; restart iofdtui serve to share again")
