"""What an attached iofdtui costs the VM it traces: the lab's rings/s with and
without `iofdtui attach` on it, in one run.

The lab (the demo's registrations and plan, reader epoll) runs in this
process; phases alternate: untraced, then traced by `iofdtui attach PID
--seconds S --json` in a subprocess (the window starts once its tracefs
instance exists), and so on for --rounds.  Rings/s come from exact
checkpoints (rings counted by the guest).  The attach's own figures are
printed beside each traced phase: events decoded, events lost, and its CPU
time reading them; and its counts are checked against the lab's over the
window (traced writes ≥ the window's rings: the trace runs a little longer).

    python benchmarks/bench_attach.py [--seconds S] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from iofdtui.engine.attach.tracefs import find_tracefs
from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import Lab


def _rings(lab: Lab) -> tuple[int, float]:
    cp = lab.checkpoint()
    return sum(d.rings for d in cp.doorbells), cp.taken_at


def _window(lab: Lab, seconds: float) -> float:
    rings0, t0 = _rings(lab)
    time.sleep(seconds)
    rings1, t1 = _rings(lab)
    return (rings1 - rings0) / (t1 - t0)


def _traced(lab: Lab, seconds: float, instances: Path) -> tuple[float, dict[str, object]]:
    """rings/s while `iofdtui attach` traces this process, and its JSON document."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "iofdtui",
            "attach",
            str(os.getpid()),
            "--seconds",
            str(seconds + 1.0),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    prefix = f"iofdtui-{child.pid}-"
    deadline = time.monotonic() + 30
    while not any(n.startswith(prefix) for n in os.listdir(instances)):
        if child.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"iofdtui attach did not start: {child.stderr.read().strip()}")
        time.sleep(0.02)
    rate = _window(lab, seconds)
    out, err = child.communicate(timeout=60)
    if child.returncode:
        raise SystemExit(f"iofdtui attach failed: {err.strip()}")
    return rate, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3, help="untraced/traced pairs")
    args = parser.parse_args()
    instances = find_tracefs() / "instances"
    with Lab() as lab:
        for spec in demo_registrations():
            lab.add_registration(spec)
        lab.set_plan(demo_plan())
        lab.start()
        time.sleep(0.5)
        plain, traced = [], []
        for r in range(args.rounds):
            plain.append(_window(lab, args.seconds))
            rate, doc = _traced(lab, args.seconds, instances)
            traced.append(rate)
            cost = doc["cost"]
            writes = sum(d["writes"] for d in doc["doorbells"])
            print(
                f"round {r + 1}: untraced {plain[-1]:,.0f} rings/s, traced {rate:,.0f} rings/s "
                f"({rate / plain[-1]:.2f}x); attach: {cost['events']:,} events in "
                f"{doc['elapsed_s']:.1f} s, {cost['lost']:,} lost, {cost['cpu_s']:.2f} s CPU "
                f"({cost['cpu_s'] / doc['elapsed_s']:.0%} of a CPU), {writes:,} writes traced"
            )
    p, t = statistics.median(plain), statistics.median(traced)
    print(f"median: untraced {p:,.0f} rings/s, traced {t:,.0f} rings/s: {t / p:.2f}x")


if __name__ == "__main__":
    main()
