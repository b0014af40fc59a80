"""The `iofdtui` command: the app by default, `iofdtui bench` headless."""

from __future__ import annotations

import argparse
import json
import sys

from iofdtui.engine.errors import EngineError

EXIT_ENV = 2  # the machine cannot run the lab (no KVM, no permission, ...)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iofdtui",
        description="Watch KVM ioeventfd doorbells: a live test VM, registrations with "
        "trigger values, exact signal counts and latency beside the userspace-exit baseline.",
    )
    parser.add_argument(
        "--vcpus",
        type=int,
        choices=(1, 2),
        default=1,
        help="vCPUs ringing the plan in the app (default 1; v switches in the app)",
    )
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="measure ioeventfd against userspace exits, headless")
    bench.add_argument("--seconds", type=float, default=1.0, help="seconds per path (default 1.0)")
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    bench.add_argument(
        "--consumer",
        choices=("epoll", "poll"),
        default=None,
        help="eventfd consumer: block in epoll_wait (default) or busy-poll; "
        "--wake measures both unless one is named",
    )
    bench.add_argument(
        "--wake",
        action="store_true",
        help="wake-up latency: guest write → eventfd consumer running, paced rings",
    )
    bench.add_argument(
        "--period",
        type=float,
        default=100.0,
        help="µs between paced rings for --wake (default 100)",
    )
    bench.add_argument(
        "--vcpus",
        type=int,
        choices=(1, 2),
        default=1,
        help="2: two vCPUs ringing at once (own eventfds, one shared eventfd) against one",
    )
    bench.add_argument(
        "--scale",
        action="store_true",
        help="ring cost against decoy registrations (1..100,000) and trigger values (1..512)",
    )
    bench.add_argument(
        "--bus", choices=("pio", "mmio"), default="pio", help="bus for --scale (default pio)"
    )
    bench.add_argument(
        "--max-decoys",
        type=int,
        default=100_000,
        help="largest decoy count for --scale (default 100,000)",
    )
    return parser


def _scale(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iofdtui.engine.model import Bus
    from iofdtui.engine.scale import DECOY_SIZES, TRIGGER_COUNTS, render, run_scale

    sizes = [n for n in DECOY_SIZES if n <= args.max_decoys]
    err = Console(stderr=True)
    with err.status("measuring…") as status:
        report = run_scale(
            args.seconds,
            bus=Bus(args.bus),
            sizes=sizes,
            trigger_counts=TRIGGER_COUNTS,
            progress=lambda what: status.update(f"measuring {what}…"),
        )
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        Console().print(render(report))
    return 0


def _wake(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iofdtui.engine.wake import CONSUMERS, WakePhase, render, run_wake

    if args.seconds <= 0 or not 1 <= args.period <= 100_000:
        print("iofdtui: --seconds must be positive and --period 1..100000 µs", file=sys.stderr)
        return EXIT_ENV
    consumers = (args.consumer,) if args.consumer else CONSUMERS
    err = Console(stderr=True)
    with err.status("measuring…") as status:

        def progress(phase: WakePhase) -> None:
            status.update(f"measuring {phase.bus.value} wake-ups, consumer {phase.consumer}…")

        report = run_wake(args.seconds, args.period, consumers, progress=progress)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        Console().print(render(report))
    return 0


def _vcpus(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iofdtui.engine.model import Bus
    from iofdtui.engine.vcpus_bench import render, run_vcpu_bench

    if args.seconds <= 0:
        print("iofdtui: --seconds must be positive", file=sys.stderr)
        return EXIT_ENV
    err = Console(stderr=True)
    with err.status("measuring…") as status:

        def progress(bus: Bus, mode: str) -> None:
            status.update(f"measuring {bus.value}, {mode}…")

        report = run_vcpu_bench(args.seconds, consumer=args.consumer or "epoll", progress=progress)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        Console().print(render(report))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iofdtui.engine.bench import Phase, render, run_bench

    if args.seconds <= 0:
        print("iofdtui: --seconds must be positive", file=sys.stderr)
        return EXIT_ENV
    err = Console(stderr=True)
    with err.status("measuring…") as status:

        def progress(phase: Phase) -> None:
            width = "any" if phase.width == 0 else phase.width
            status.update(f"measuring {phase.bus.value} len {width} {phase.path}…")

        report = run_bench(args.seconds, consumer=args.consumer or "epoll", progress=progress)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        Console().print(render(report))
    return 0


def _app(vcpus: int) -> int:
    from iofdtui.ui.app import run_app

    return run_app(vcpus)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "bench":
            if args.wake:
                return _wake(args)
            if args.vcpus == 2:
                return _vcpus(args)
            return _scale(args) if args.scale else _bench(args)
        return _app(args.vcpus)
    except EngineError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
