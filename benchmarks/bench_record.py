"""What recording costs the guest: ring rate with the app's recording on against off.

One lab rings the demo; the app's own reading code (`LabSession.read`: a
snapshot every refresh interval, an exact checkpoint every second, the
selected registration's histograms) runs in this thread as the poller would,
with the session's recording off in one phase and on (a gzip file, every
reading written) in the next, alternating `--rounds` times, so a neighbour
that lands in one phase and not the other cannot decide the result.  Rates
are counted between exact checkpoints (rings counted by the guest).  The
median of the per-round ratios (on / off) is the result; target >= 0.98.

Also reported: the time `frame()` takes per reading (encode, compress,
write), and the bytes per frame on disk.

    python benchmarks/bench_record.py [--seconds S] [--rounds N] [--refresh S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import Lab
from iofdtui.ui.session import LabSession
from iofdtui.ui.session_recording import SessionRecording

TARGET = 0.98


class TimedRecording(SessionRecording):
    """The session's recording, timing each frame it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.spent: list[float] = []

    def frame(self, lab, reading, checkpoint):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        outcome = super().frame(lab, reading, checkpoint)
        if self.path is not None:
            self.spent.append(time.perf_counter() - started)
        return outcome


def phase(session: LabSession, lab: Lab, seconds: float, refresh: float) -> tuple[float, float]:
    """Read as the app's poller does for `seconds`.

    Returns the guest's rings/s over the phase and this thread's CPU time per
    reading in ms (what recording adds to the poller, less disturbed by
    neighbours than the ring rate).
    """
    first = lab.checkpoint()
    started = time.monotonic()
    next_checkpoint = started + 1.0
    cpu = 0.0
    readings = 0
    while time.monotonic() - started < seconds:
        due = time.monotonic() >= next_checkpoint
        before = time.thread_time()
        session.read(checkpoint=due)
        cpu += time.thread_time() - before
        readings += 1
        if due:
            next_checkpoint += 1.0
        time.sleep(refresh)
    last = lab.checkpoint()
    rings = sum(d.rings for d in last.doorbells) - sum(d.rings for d in first.doorbells)
    return rings / (last.taken_at - first.taken_at), 1e3 * cpu / max(1, readings)


def main() -> None:
    """Alternate recording off and on; print each round and the median ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=5, help="off/on pairs")
    parser.add_argument("--refresh", type=float, default=0.25, help="seconds between readings")
    args = parser.parse_args()

    with Lab() as lab, tempfile.TemporaryDirectory() as tmp:
        lab.set_plan(demo_plan())
        for spec in demo_registrations():
            lab.add_registration(spec)
        lab.start()
        session = LabSession(lambda _vcpus: lab)
        session.lab = lab
        session.selected = min(lab.registrations())  # the app selects the first row
        recording = TimedRecording()
        session.recording = recording
        path = os.path.join(tmp, "bench.jsonl.gz")
        phase(session, lab, 1.0, args.refresh)  # warm-up
        ratios = []
        cpu: dict[str, list[float]] = {"off": [], "on": []}
        print(f"{'round':>5} {'off rings/s':>12} {'on rings/s':>12} {'on/off':>7}")
        for n in range(1, args.rounds + 1):
            # Alternate which phase goes first, so a drift over a round cancels.
            order = ("off", "on") if n % 2 else ("on", "off")
            rates = {}
            for which in order:
                if which == "on":
                    recording.start(path, lab.machine)
                rates[which], ms = phase(session, lab, args.seconds, args.refresh)
                cpu[which].append(ms)
                if which == "on":
                    recording.stop()
            ratio = rates["on"] / rates["off"]
            ratios.append(ratio)
            print(f"{n:>5} {rates['off']:>12,.0f} {rates['on']:>12,.0f} {ratio:>7.3f}")
        size = os.path.getsize(path)
        frames = max(1, round(args.seconds / args.refresh))
    median = statistics.median(ratios)
    spent = sorted(recording.spent)
    p90 = spent[int(0.9 * (len(spent) - 1))]
    verdict = "target met" if median >= TARGET else f"below the {TARGET} target"
    print(f"median on/off {median:.3f} ({verdict})")
    print(
        f"poller CPU per reading (median of rounds): off {statistics.median(cpu['off']):.2f} ms, "
        f"on {statistics.median(cpu['on']):.2f} ms; frame() wall "
        f"{statistics.median(spent) * 1e3:.2f} ms median, {p90 * 1e3:.2f} ms p90 over "
        f"{len(spent)} readings; ~{size / frames:,.0f} bytes per frame gzipped"
    )


if __name__ == "__main__":
    main()
