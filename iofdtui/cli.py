"""The `iofdtui` command: the app by default, `iofdtui bench` headless."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

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


Say = Callable[[str], None]
"""Puts "measuring <what>…" on the status line."""


def _measure_and_print(
    args: argparse.Namespace, measure: Callable[[Say], Any], render: Callable[[Any], object]
) -> int:
    """Run a measurement under a status line, then print its table or JSON document."""
    from rich.console import Console

    with Console(stderr=True).status("measuring…") as status:
        report = measure(lambda what: status.update(f"measuring {what}…"))
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        Console().print(render(report))
    return 0


def _positive_seconds(args: argparse.Namespace) -> bool:
    if args.seconds > 0:
        return True
    print("iofdtui: --seconds must be positive", file=sys.stderr)
    return False


def _scale(args: argparse.Namespace) -> int:
    from iofdtui.engine.model import Bus
    from iofdtui.engine.scale import DECOY_SIZES, TRIGGER_COUNTS, render, run_scale

    sizes = [n for n in DECOY_SIZES if n <= args.max_decoys]
    return _measure_and_print(
        args,
        lambda say: run_scale(
            args.seconds,
            bus=Bus(args.bus),
            sizes=sizes,
            trigger_counts=TRIGGER_COUNTS,
            progress=say,
        ),
        render,
    )


def _wake(args: argparse.Namespace) -> int:
    from iofdtui.engine.wake import CONSUMERS, render, run_wake

    if not _positive_seconds(args):
        return EXIT_ENV
    if not 1 <= args.period <= 100_000:
        print("iofdtui: --period must be 1..100000 µs", file=sys.stderr)
        return EXIT_ENV
    consumers = (args.consumer,) if args.consumer else CONSUMERS
    return _measure_and_print(
        args,
        lambda say: run_wake(
            args.seconds,
            args.period,
            consumers,
            progress=lambda p: say(f"{p.bus.value} wake-ups, consumer {p.consumer}"),
        ),
        render,
    )


def _vcpus(args: argparse.Namespace) -> int:
    from iofdtui.engine.vcpus_bench import render, run_vcpu_bench

    if not _positive_seconds(args):
        return EXIT_ENV
    return _measure_and_print(
        args,
        lambda say: run_vcpu_bench(
            args.seconds,
            consumer=args.consumer or "epoll",
            progress=lambda bus, mode: say(f"{bus.value}, {mode}"),
        ),
        render,
    )


def _bench(args: argparse.Namespace) -> int:
    from iofdtui.engine.bench import render, run_bench

    if not _positive_seconds(args):
        return EXIT_ENV

    def width(phase: Any) -> object:
        return "any" if phase.width == 0 else phase.width

    return _measure_and_print(
        args,
        lambda say: run_bench(
            args.seconds,
            consumer=args.consumer or "epoll",
            progress=lambda p: say(f"{p.bus.value} len {width(p)} {p.path}"),
        ),
        render,
    )


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
