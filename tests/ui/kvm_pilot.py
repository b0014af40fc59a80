"""What Pilot tests that drive the real engine on /dev/kvm share (waiting: conftest.py)."""

from __future__ import annotations

import asyncio

import pytest
from textual.pilot import Pilot

from iofdtui.ui.app import IofdApp
from tests.ui.conftest import wait_for


@pytest.fixture(autouse=True)
def idle_means_a_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's pilot waits until the *process* is idle, up to a second per wait.

    With the guest's vCPU and reader threads ringing in this process it never
    is, so every key press would cost two seconds.  The tests wait for the
    state they need (`wait_for`) instead.
    """

    async def one_tick(min_sleep: float = 0.0, max_sleep: float = 0.0) -> None:
        await asyncio.sleep(0.02)

    monkeypatch.setattr("textual.app.wait_for_idle", one_tick)
    monkeypatch.setattr("textual.pilot.wait_for_idle", one_tick)


async def live(pilot: Pilot) -> IofdApp:
    """Wait until the demo is on screen with figures moving."""
    app = pilot.app
    assert isinstance(app, IofdApp)
    await wait_for(pilot, lambda: app.snapshot is not None and app.snapshot.ring_rate)
    return app
