"""The engine against the floor: a bare `write; jmp` guest loop on the same doorbell.

For PIO and MMIO, on the ioeventfd path and on the userspace-exit path, and
under each reader (none, poll, epoll), this runs iofdtui's ring loop (unrolled
bursts, every ring inside a timed visit, per-visit counters) and the bare
loop (no timing, no counters) in the same process, one after the other, and
prints rings/s and their ratio.  Target: engine >= 0.95 x floor on every row.

It also checks that the ring cost agrees with throughput, two ways:
- per path: the guest's mean cost per ring against the wall time per ring
  less the guest's time between visits (target within +-10 %);
- per bus: the latency saved per ring (userspace mean - ioeventfd mean)
  against the difference in wall time per ring of the two phases (+-15 %).

    python benchmarks/bench_floor.py [--seconds S] [--reader none|poll|epoll|all] [--rounds N]
                                     [--irqchip]

`--irqchip` makes every VM with an in-kernel irqchip, as a lab with completions
has (none is attached): run it with and without to see what the irqchip costs.
"""

from __future__ import annotations

import argparse
import time

from iofdtui.engine.experiments.bench import Phase, run_phase
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import READERS

DOORBELLS = {Bus.PIO: (0x03F8, 1), Bus.MMIO: (0xFE00_0000, 4)}


def floor_rate(
    bus: Bus, ioeventfd: bool, seconds: float, reader: str, irqchip: bool = False
) -> float:
    """Rings/s of the bare loop, counted as eventfd signals or userspace exits."""
    addr, width = DOORBELLS[bus]
    slot = SlotSpec(bus, addr, width, 0x5A, 0)
    with Lab(completions=irqchip) as lab:
        lab.set_reader(reader)
        reg = lab.add_registration(RegistrationSpec(bus, addr, width)) if ioeventfd else None
        lab.start_bare(slot)
        time.sleep(0.2)

        def count() -> tuple[float, int]:
            snap = lab.snapshot()
            signals = sum(r.signals for r in snap.registrations if r.id == reg)
            return snap.taken_at, signals + sum(s.exits for s in snap.slots)

        t0, c0 = count()
        time.sleep(seconds)
        t1, c1 = count()
        return (c1 - c0) / (t1 - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--reader", choices=(*READERS, "all"), default="all")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="floor and engine phases alternate this many times; the median ratio is kept "
        "(one phase after the other, a noisy neighbour lands in one and not the other)",
    )
    parser.add_argument("--irqchip", action="store_true", help="every VM with an in-kernel irqchip")
    args = parser.parse_args()
    readers = READERS if args.reader == "all" else (args.reader,)
    chip = ", in-kernel irqchip" if args.irqchip else ""
    print(f"{args.seconds} s per phase, {args.rounds} alternating rounds (median ratio){chip}")
    print(
        f"{'reader':6} {'bus':5} {'path':10} {'floor/s':>10} {'engine/s':>10} {'ratio':>6} "
        f"{'mean ns':>8} {'stream ns':>9} {'agree':>6}"
    )
    ok = True
    for reader in readers:
        for bus, (_, width) in DOORBELLS.items():
            measured = {}
            for path in ("ioeventfd", "userspace"):
                rounds = []
                for _ in range(args.rounds):
                    floor = floor_rate(bus, path == "ioeventfd", args.seconds, reader, args.irqchip)
                    with Lab(completions=args.irqchip) as lab:
                        lab.set_reader(reader)
                        lab.start()
                        result = run_phase(lab, Phase(bus, width, width, path), args.seconds)
                    rounds.append((result.rings_per_s / floor, floor, result))
                ratio, floor, result = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]
                measured[path] = result
                agree = result.agreement or 0.0
                ok &= ratio >= 0.95 and 0.9 <= agree <= 1.1
                print(
                    f"{reader:6} {bus.value:5} {path:10} {floor:10,.0f} "
                    f"{result.rings_per_s:10,.0f} {ratio:6.2f} "
                    f"{result.latency.mean_ns or 0:8,.0f} {result.stream_ns or 0:9,.0f} "
                    f"{agree:6.2f}"
                )
            iofd, user = measured["ioeventfd"], measured["userspace"]
            saved = (user.latency.mean_ns or 0) - (iofd.latency.mean_ns or 0)
            wall = 1e9 / user.rings_per_s - 1e9 / iofd.rings_per_s
            agree = saved / wall
            ok &= 0.85 <= agree <= 1.15
            print(
                f"{reader:6} {bus.value:5} latency saved/ring {saved:,.0f} ns vs wall saved/ring "
                f"{wall:,.0f} ns: agreement {agree:.2f}"
            )
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
