"""The round-trip screen (`i`) on the real engine, while the live guest waits."""

from __future__ import annotations

import pytest
from textual.message import Message

from iofdtui.ui.app import make_app
from iofdtui.ui.messages import GuestResumed
from iofdtui.ui.roundtrip_port import KvmRoundTrip
from iofdtui.ui.screens.roundtrip import RoundTripScreen
from iofdtui.ui.widgets.stage_bars import StageBars
from tests.ui.conftest import outcomes, wait_for

from .kvm_pilot import idle_means_a_tick, live  # noqa: F401 (a fixture)

pytestmark = pytest.mark.kvm


async def test_the_real_round_trip_counts_every_kick_and_draws_its_stages() -> None:
    messages: list[Message] = []
    app = make_app(refresh_interval=0.1, roundtrip=KvmRoundTrip(seconds=0.1, readers=("epoll",)))
    async with app.run_test(size=(160, 45), message_hook=messages.append) as pilot:
        await live(pilot)
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, RoundTripScreen))
        screen = app.screen
        assert isinstance(screen, RoundTripScreen)
        await wait_for(pilot, lambda: screen.report is not None, timeout=60.0)
        assert screen.report is not None
        paths = [(r.path, r.bus, r.route) for r in screen.report.results]
        assert paths == [
            ("ioeventfd", "pio", "msi"),
            ("ioeventfd", "pio", "pin"),
            ("user", "pio", "msi"),
            ("user", "pio", "pin"),
            ("ioeventfd", "mmio", "msi"),
            ("ioeventfd", "mmio", "pin"),
            ("user", "mmio", "msi"),
            ("user", "mmio", "pin"),
            ("self-ipi", "lapic", "self"),
        ]
        assert all(r.exact and r.counts.kicks > 0 for r in screen.report.results)
        assert str(screen.query_one(StageBars).render()).count("█") > 10
        await pilot.press("escape")
        await wait_for(pilot, lambda: outcomes(messages, GuestResumed))
        assert app.lab is not None and app.lab.state == "running"
