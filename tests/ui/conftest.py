"""UI test fixtures and the one way UI tests wait for the app.

`wait_for` polls a predicate while the app runs; `engine_idle` waits for the
session's engine calls (as harlequin's `wait_for_workers`); `show_reading`
takes one reading now and shows it, as the poller would (for tests whose
poller sleeps an hour); `until_live` is the first screenful with histograms.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from iofdtui.ui.app import IofdApp
from iofdtui.ui.messages import EngineDone, SnapshotReady

T = TypeVar("T")


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make SVG snapshots depend on timing."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


async def wait_for(pilot: Pilot, predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting for the app"
        await pilot.pause(0.02)


def _app(pilot: Pilot) -> IofdApp:
    app = pilot.app
    assert isinstance(app, IofdApp)
    return app


async def engine_idle(pilot: Pilot, timeout: float = 5.0) -> None:
    """Wait until no engine call is running or waiting, then let their reports land."""
    app = _app(pilot)
    await wait_for(
        pilot,
        lambda: not any(w.group == "engine" and w.is_running for w in app.workers),
        timeout,
    )
    await pilot.pause()


async def show_reading(pilot: Pilot) -> SnapshotReady:
    """Take one reading now (no checkpoint) and show it, as the poller would."""
    app = _app(pilot)
    reading = app.session.read()
    assert reading is not None, "no lab to read"
    app.main.post_message(reading)
    await pilot.pause()
    return reading


async def until_live(pilot: Pilot) -> SnapshotReady:
    """The first reading shown and a row selected, then a reading with its histograms.

    The first reading comes before any row is selected, so it carries no
    histogram; a test whose poller sleeps an hour takes the next one here.
    """
    app = _app(pilot)
    await wait_for(pilot, lambda: app.snapshot is not None and app.main.selected_id is not None)
    await pilot.pause()
    reading = await show_reading(pilot)
    assert reading.selected == app.main.selected_id, "the reading carries its histograms"
    return reading


def outcomes(messages: Iterable[object], kind: type[T]) -> list[T]:
    """What the engine calls reported, of one kind, in order (from a `message_hook` list)."""
    return [
        m.outcome for m in messages if isinstance(m, EngineDone) and isinstance(m.outcome, kind)
    ]
