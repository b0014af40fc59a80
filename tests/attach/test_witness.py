"""The lab's doorbells witnessed by the kernel's tracepoints, checkpoint to checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from iofdtui.engine.attach.snapshot import AttachSnapshot, TraceCost, TracedDoorbell
from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.model import Bus
from iofdtui.engine.snapshot import Checkpoint, DoorbellStats
from iofdtui.ui.traced_witness import TracedWitness


@dataclass
class _Tracer:
    """Traced (in kernel, exits) at pio 0x3f8, set by the test."""

    counts: tuple[int, int] = (0, 0)
    lost: int = 0
    polls: list[bool] = field(default_factory=list)

    def poll(self, final: bool = False) -> int:
        self.polls.append(final)
        return 0

    def snapshot(self) -> AttachSnapshot:
        k, x = self.counts
        door = TracedDoorbell(Bus.PIO, 0x3F8, k + x, x, 0, (), ())
        cost = TraceCost(0, None, self.lost, 0.0, 4096)
        return AttachSnapshot(1, "t", 0.0, (door,), (), 0, 0, "i", cost)

    def close(self) -> None:
        pass


def _cp(number: int, signals: int, exits: int, exact: bool = True) -> Checkpoint:
    door = DoorbellStats(Bus.PIO, 0x3F8, signals + exits, signals, exits, (), signals + exits)
    return Checkpoint(number, 0.0, exact, (door,), True)


def test_verdicts_window_by_window() -> None:
    tracer = _Tracer()
    witness = TracedWitness(tracer)  # type: ignore[arg-type]
    tracer.counts = (100, 5)  # the trace began before the lab's counts: only deltas count
    assert witness.at_checkpoint(_cp(1, 10, 1)) == {"pio:3f8": "…"}
    tracer.counts = (150, 7)
    assert witness.at_checkpoint(_cp(2, 60, 3)) == {"pio:3f8": "✓"}
    assert witness.new_mismatches() == []
    tracer.counts = (190, 7)
    assert witness.at_checkpoint(_cp(3, 101, 4)) == {"pio:3f8": "✗ -1/-1"}
    assert witness.at_checkpoint(_cp(3, 101, 4)) == {"pio:3f8": "✗ -1/-1"}  # the same pause
    assert witness.new_mismatches() == [
        "traced witness disagrees at pio 0x03f8 (checkpoint #3): in kernel -1 against the "
        "eventfd signals, exits -1 against the run loop's (said once per doorbell)"
    ]
    assert witness.new_mismatches() == []
    tracer.counts = (200, 7)
    assert witness.at_checkpoint(_cp(4, 0, 0)) == {"pio:3f8": "…"}  # a reset: no verdict
    tracer.counts, tracer.lost = (210, 7), 3
    assert witness.at_checkpoint(_cp(5, 10, 0)) == {"pio:3f8": "…"}  # events lost
    tracer.counts = (220, 8)
    assert witness.at_checkpoint(_cp(6, 20, 1, exact=False)) == {"pio:3f8": "…"}  # kicked
    assert all(tracer.polls)  # every checkpoint read to the end, nothing held back
    tracer.counts = (229, 10)
    assert witness.at_checkpoint(_cp(7, 28, 3)) == {"pio:3f8": "✗ +1/+0"}
    assert witness.new_mismatches() == []  # that doorbell's mismatch was said already


@pytest.mark.kvm
def test_a_real_lab_is_witnessed_exactly(lab: object, tracefs: object) -> None:
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    lab.start()
    witness = TracedWitness.open()
    assert witness is not None
    try:
        verdicts = []
        for _ in range(3):
            time.sleep(0.15)
            witness.poll()
            assert lab.pause()
            verdicts.append(witness.at_checkpoint(lab.checkpoint()))
            lab.resume()
    finally:
        witness.close()
    assert set(verdicts[0].values()) == {"…"}
    assert verdicts[1] == verdicts[2] == dict.fromkeys(verdicts[0], "✓")
    assert len(verdicts[1]) == 4  # every doorbell of the demo


class _SaysOnce:
    """A witness whose first reading has one new mismatch."""

    def __init__(self) -> None:
        self.lines = ["traced witness disagrees at pio 0x03f8 (checkpoint #3): ..."]

    def new_mismatches(self) -> list[str]:
        out, self.lines = self.lines, []
        return out


async def test_the_lab_screen_logs_a_mismatch_once() -> None:
    from iofdtui.ui.app import make_app
    from iofdtui.ui.messages import SnapshotReady
    from iofdtui.ui.widgets.event_log import EventLog
    from tests.ui.conftest import wait_for
    from tests.ui.fake_lab import FakeLab, fixed_clock

    app = make_app(FakeLab, refresh_interval=0.05, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.snapshot is not None)
        app.main.session.traced = _SaysOnce()  # type: ignore[assignment]
        for _ in range(2):
            app.main.show_reading(SnapshotReady(app.snapshot, traced={"pio:3f8": "✗ -1/-1"}))
        app.main.session.traced = None
        said = [e for e in app.query_one(EventLog).entries if "traced witness disagrees" in e]
        assert len(said) == 1
