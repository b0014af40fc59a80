"""The `iofdtui attach` command: list KVM processes, or trace one headless.

`iofdtui attach --list` prints the KVM processes; `iofdtui attach PID
--seconds S [--json]` traces PID's doorbells for S seconds and prints them;
`iofdtui attach PID` alone opens the app on it (cli.py hands that to the UI).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict

from iofdtui.engine.attach.snapshot import AttachSnapshot

COMMAND = "attach"
SECONDS = (0.1, 86_400.0)
POLL_S = 0.2  # the buffer holds ~0.5 s of a flat-out VM's events per CPU: read well within it


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and SECONDS[0] <= value <= SECONDS[1]):
        raise argparse.ArgumentTypeError(
            f"must be seconds from {SECONDS[0]:g} to {SECONDS[1]:g}, got {text!r}"
        )
    return value


def _pid(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a process id, got {text!r}")
    return int(text)


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `attach` to the CLI's subcommands."""
    attach = sub.add_parser(
        COMMAND,
        help="any KVM process's doorbells live, from the kernel's tracepoints (root, tracefs)",
        description="Trace a running KVM process (QEMU, Firecracker, another iofdtui...) "
        "through a tracefs instance of iofdtui's own: every PIO and MMIO write its vCPUs "
        "make, and whether the kernel served it (an ioeventfd) or it exited to userspace. "
        "Needs root and tracefs (mount -t tracefs nodev /sys/kernel/tracing).",
    )
    attach.add_argument("pid", metavar="PID", type=_pid, nargs="?", help="the process to trace")
    attach.add_argument("--list", action="store_true", help="list the KVM processes and exit")
    attach.add_argument(
        "--seconds",
        type=_seconds,
        default=None,
        help="trace headless for this long and print the doorbells (no terminal needed)",
    )
    attach.add_argument("--json", action="store_true", help="with --seconds: one JSON document")
    attach.add_argument(
        "--record",
        metavar="FILE",
        help="the app: record every reading to FILE from the start (R toggles; "
        "iofdtui replay and export read it)",
    )
    attach.add_argument(
        "--exit-latency",
        action="store_true",
        help="also time each exit to its re-entry per reason (kvm_exit/kvm_entry: on VMX/SVM "
        "they fire at every exit, so this traces far more events)",
    )


def wants_app(args: argparse.Namespace) -> bool:
    """Whether `args` ask for the app on an attached VM (a PID, no --list, no --seconds)."""
    return args.pid is not None and not args.list and args.seconds is None


def usage_error(args: argparse.Namespace) -> str | None:
    """What is wrong with this combination of flags, or None."""
    if args.list and args.pid is not None:
        return "--list takes no PID"
    if not args.list and args.pid is None:
        return "give a PID to trace, or --list"
    if args.json and args.seconds is None:
        return "--json goes with --seconds"
    if args.record is not None and (args.list or args.seconds is not None):
        return "--record goes with the app (a PID alone); --seconds S --json keeps a headless trace"
    return None


def run(args: argparse.Namespace) -> int:
    """`--list`, or a headless trace of PID; errors propagate as one-line OSErrors."""
    from iofdtui.reports.printing import print_report

    if args.list:
        from iofdtui.engine.attach.processes import kvm_processes
        from iofdtui.reports.attach import process_table

        print_report(process_table(kvm_processes()))
        return 0
    snap = trace_for(args.pid, args.seconds, args.exit_latency)
    if args.json:
        print(json.dumps(snapshot_json(snap), indent=1))
    else:
        from iofdtui.reports.attach import snapshot_report

        print_report(snapshot_report(snap))
    return 0


def trace_for(pid: int, seconds: float, exit_latency: bool = False) -> AttachSnapshot:
    """Trace `pid` for `seconds`, reading every POLL_S; the instance is removed whatever happens."""
    from iofdtui.engine.attach.tracer import HOLD_NS, attached

    with attached(pid, exit_latency=exit_latency) as tracer:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(POLL_S, left))
            tracer.poll()
        time.sleep(HOLD_NS / 1e9)  # let the last events commit, then take them all
        tracer.poll(final=True)
        return tracer.snapshot()


def snapshot_json(snap: AttachSnapshot) -> dict[str, object]:
    """The snapshot as plain JSON: every field, plus each figure's in_kernel."""
    doc = asdict(snap)
    for door, raw in zip(snap.doorbells, doc["doorbells"], strict=True):
        raw["bus"] = str(door.bus)
        raw["in_kernel"] = door.in_kernel
        for value, raw_value in zip(door.by_value, raw["by_value"], strict=True):
            raw_value["in_kernel"] = value.in_kernel
    return doc
