"""A lab in a process of its own, for attaching to from a test: it runs the demo,
parks at a pause, and rings between the test's `go` and `stop`; at `stop` it
prints its exact checkpoint's counts per doorbell (one JSON line).

    python -m tests.attach.lab_process
"""

from __future__ import annotations

import json
import sys

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import open_lab


def main() -> None:
    with open_lab(1) as lab:
        for spec in demo_registrations():
            lab.add_registration(spec)
        lab.set_plan(demo_plan())
        lab.start()
        if not lab.pause():
            raise SystemExit("the guest did not park")
        lab.reset_counters()
        print("ready", flush=True)
        sys.stdin.readline()  # go
        lab.resume()
        sys.stdin.readline()  # stop
        if not lab.pause():
            raise SystemExit("the guest did not park")
        checkpoint = lab.checkpoint()
        doors = [
            [d.bus.value, d.addr, d.rings, d.signals, d.exits] for d in lab.snapshot().doorbells
        ]
        print(json.dumps({"holds": checkpoint.holds, "doorbells": doors}), flush=True)
        sys.stdin.readline()  # the test has closed its tracer: leave


if __name__ == "__main__":
    main()
