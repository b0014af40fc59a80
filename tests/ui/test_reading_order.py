"""A reading taken before a reset never reaches the view after the reset's report.

The poller reads under the session's engine lock; a reset waits for that lock.
If the poller posted its reading after letting go of the lock, the reset could
run and report in between, and the view would show the pre-reset counts for
one refresh after "counters reset": counts that jump back.
"""

from __future__ import annotations

import threading
import time

from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.app import make_app
from iofdtui.ui.messages import CountersReset, EngineDone, SnapshotReady
from tests.ui.conftest import wait_for
from tests.ui.fake_lab import FakeLab, fixed_clock


class GatedLab(FakeLab):
    """A fake whose next snapshot, once armed, waits for the test to let it go."""

    def __init__(self, vcpus: int = 1) -> None:
        super().__init__(vcpus)
        self.armed = False
        self.inside = threading.Event()
        self.release = threading.Event()
        self.gated: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        snap = super().snapshot()
        if self.armed:
            self.armed = False
            self.gated = snap
            self.inside.set()
            self.release.wait(5)
        return snap


async def test_a_reset_waits_for_the_reading_in_flight_to_be_reported() -> None:
    lab = GatedLab()
    app = make_app(lambda vcpus: lab, refresh_interval=0.05, clock=fixed_clock)
    messages: list[object] = []
    async with app.run_test(size=(120, 40), message_hook=messages.append) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        session = app.session
        post = session._post

        def slow_post(message: object) -> None:
            # A poller thread preempted right after its reading: the window in
            # which a reset could overtake it.
            if isinstance(message, SnapshotReady) and message.snapshot is lab.gated:
                time.sleep(0.2)
            post(message)  # type: ignore[arg-type]

        session._post = slow_post  # type: ignore[method-assign]
        lab.armed = True
        await wait_for(pilot, lab.inside.is_set)
        await pilot.press("r")  # the reset's worker now waits for the engine lock
        lab.release.set()
        await wait_for(
            pilot,
            lambda: any(
                isinstance(m, EngineDone) and isinstance(m.outcome, CountersReset) for m in messages
            ),
        )
        order = [
            "reset" if isinstance(m, EngineDone) else "gated"
            for m in messages
            if (isinstance(m, EngineDone) and isinstance(m.outcome, CountersReset))
            or (isinstance(m, SnapshotReady) and m.snapshot is lab.gated)
        ]
        assert order == ["gated", "reset"]
