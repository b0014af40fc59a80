"""`iofdtui bench` in each of its modes: a measurement under a status line,
then its table or its JSON document."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from iofdtui.cli import running
from iofdtui.cli.flags import READERS, WAKE_READERS, OneLineParser, combination_error

if TYPE_CHECKING:
    from rich.console import RenderableType


Say = Callable[[str], None]
"""Puts "measuring <what>…" on the status line."""


@contextmanager
def _cursor_restored() -> Iterator[None]:
    """Show the cursor again however the block ends (the status spinner hides it)."""
    try:
        yield
    finally:
        if sys.stderr.isatty():
            sys.stderr.write("\x1b[?25h")
            sys.stderr.flush()


def _measure_and_print(
    args: argparse.Namespace,
    measure: Callable[[Say], Any],
    render: Callable[[Any], RenderableType],
) -> int:
    """Run a measurement under a status line, then print its table or JSON document."""
    from rich.console import Console

    from iofdtui.reports.printing import print_report

    with _cursor_restored(), Console(stderr=True).status("measuring…") as status:
        report = measure(lambda what: status.update(f"measuring {what}…"))
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print_report(render(report))
    return 0


# ------------------------------------------------------------------- modes


def _scale(args: argparse.Namespace) -> int:
    from iofdtui.engine.experiments.scale import DECOY_SIZES, TRIGGER_COUNTS, run_scale
    from iofdtui.engine.model import Bus
    from iofdtui.reports.scale import render

    max_decoys = args.max_decoys if args.max_decoys is not None else DECOY_SIZES[-1]
    sizes = [n for n in DECOY_SIZES if n <= max_decoys]  # --max-decoys ≥ 1: never empty
    return _measure_and_print(
        args,
        lambda say: run_scale(
            args.seconds,
            bus=Bus(args.bus or "pio"),
            sizes=sizes,
            trigger_counts=TRIGGER_COUNTS,
            progress=say,
        ),
        render,
    )


def _wake(args: argparse.Namespace) -> int:
    from iofdtui.engine.experiments.wake import run_wake
    from iofdtui.reports.wake import render

    if args.reader is None:
        consumers: tuple[str, ...] = WAKE_READERS
    else:
        consumers = READERS if args.reader == "all" else (args.reader,)
    period = args.period if args.period is not None else 100.0
    return _measure_and_print(
        args,
        lambda say: run_wake(
            args.seconds,
            period,
            consumers,
            progress=lambda p: say(f"{p.bus.value} wake-ups, reader {p.consumer}"),
            pin=args.pin,
        ),
        render,
    )


def _vcpus(args: argparse.Namespace) -> int:
    from iofdtui.engine.experiments.vcpus import run_vcpu_bench
    from iofdtui.reports.vcpus import render

    return _measure_and_print(
        args,
        lambda say: run_vcpu_bench(
            args.seconds,
            consumer=args.reader or "epoll",
            pin=args.pin,
            progress=lambda bus, mode: say(f"{bus.value}, {mode}"),
        ),
        render,
    )


def _roundtrip(args: argparse.Namespace) -> int:
    from iofdtui.engine.experiments.roundtrip import run_roundtrip
    from iofdtui.reports.roundtrip import render

    readers = WAKE_READERS if args.reader == "all" else (args.reader or "epoll",)
    return _measure_and_print(
        args,
        lambda say: run_roundtrip(
            args.seconds,
            readers,
            work_us=args.work or 0.0,
            buses=(args.bus,) if args.bus else ("pio", "mmio"),
            progress=lambda path, reader: say(f"{path}" + (f", reader {reader}" if reader else "")),
        ),
        render,
    )


def bench_readers(reader: str | None) -> tuple[str, ...]:
    """The readers `iofdtui bench` measures under `--reader` (epoll when not named)."""
    if reader is None:
        return ("epoll",)
    return READERS if reader == "all" else (reader,)


def _bench(args: argparse.Namespace) -> int:
    from iofdtui.engine.experiments.bench import run_bench
    from iofdtui.reports import format as fmt
    from iofdtui.reports.bench import render

    return _measure_and_print(
        args,
        lambda say: run_bench(
            args.seconds,
            readers=bench_readers(args.reader),
            pin=args.pin,
            progress=lambda p, reader: say(
                f"{p.bus.value} len {fmt.length(p.width)} {p.path}"
                + (f" (drain: {p.drain})" if p.drain else "")
                + f", reader {reader}"
            ),
        ),
        render,
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    problem = combination_error(args)
    if problem is not None:
        OneLineParser(prog=f"{parser.prog} bench").error(problem)
    running.require_kvm()
    with running.handlers(running.raise_ended):
        if args.wake:
            return _wake(args)
        if args.vcpus == 2:
            return _vcpus(args)
        if args.roundtrip:
            return _roundtrip(args)
        return _scale(args) if args.scale else _bench(args)
