"""What the in-kernel irqchip costs the app's two-vCPU lab when no completion is attached.

The app makes every lab with an in-kernel irqchip (so a registration may carry
a completion, on two vCPUs too).  This runs the `--vcpus 2` bench's phases
(each vCPU its own eventfd; both on one eventfd, as the app's shared plan has
it) without and with the irqchip, alternating, and prints rings/s per phase
and their ratio (with / without), and whether each phase's checkpoint held.

    python benchmarks/bench_vcpus_irqchip.py [--seconds S] [--rounds N] [--reader R]
"""

from __future__ import annotations

import argparse
import statistics

from iofdtui.engine.experiments.vcpus import run_vcpu_phase
from iofdtui.engine.model import Bus

PHASES = ("own eventfds", "one eventfd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2, help="without/with alternations")
    parser.add_argument("--reader", choices=("none", "poll", "epoll"), default="epoll")
    args = parser.parse_args()
    print(f"{args.seconds} s per phase, {args.rounds} alternating rounds, reader {args.reader}")
    print(f"{'bus':5} {'phase':13} {'without/s':>11} {'with/s':>11} {'ratio':>6} exact")
    for bus in (Bus.PIO, Bus.MMIO):
        for phase in PHASES:
            rates: dict[bool, list[float]] = {False: [], True: []}
            exact = True
            for _ in range(args.rounds):
                for chip in (False, True):
                    result = run_vcpu_phase(bus, phase, args.seconds, args.reader, irqchip=chip)
                    rates[chip].append(result.rings_per_s)
                    exact &= result.conserved
            without, with_chip = (statistics.median(rates[c]) for c in (False, True))
            print(
                f"{bus.value:5} {phase:13} {without:11,.0f} {with_chip:11,.0f} "
                f"{with_chip / without:6.2f} {'✓' if exact else '✗'}"
                f"   (rounds: {' '.join(f'{r:,.0f}' for r in rates[False])} | "
                f"{' '.join(f'{r:,.0f}' for r in rates[True])})"
            )


if __name__ == "__main__":
    main()
