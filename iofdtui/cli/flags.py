"""The command line's flags: one-line refusals of a bad value or a bad mix."""

from __future__ import annotations

import argparse
from typing import NoReturn

from iofdtui.capture import attach as attach_command
from iofdtui.capture.commands import add_commands as add_recording_commands
from iofdtui.capture.commands import number_in

EXIT_ENV = 2  # the machine cannot run the lab (no KVM, no permission, ...), or a bad flag

READERS = ("none", "poll", "epoll")
"""Eventfd reader modes, in `--reader all` order."""

WAKE_READERS = ("epoll", "poll")
"""Readers that wake up, so have a wake-up latency (`--wake` measures both by default;
under reader none it measures the kick's cost alone)."""

SECONDS_RANGE = (0.05, 3600.0)
PERIOD_RANGE = (1.0, 100_000.0)

NEED_TTY = (
    "iofdtui: the app needs a terminal (stdin and stdout must be a tty); "
    "for a headless run try `iofdtui bench`"
)

STDOUT_CLOSED = (
    "iofdtui: standard output is closed; redirect it to a file (> out.txt, or > /dev/null)"
)

NO_KVM_HINT = "to see iofdtui without KVM: iofdtui replay --demo"
"""Said after every reason the lab cannot start here."""


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line: `<prog>: <what>; see <prog> --help`."""

    def error(self, message: str) -> NoReturn:
        """Print one line (no usage block) and exit 2, as argparse does."""
        self.exit(EXIT_ENV, f"{self.prog}: {message}; see {self.prog} --help\n")


def _seconds(text: str) -> float:
    """`--seconds`: a finite number of seconds in SECONDS_RANGE."""
    return number_in(text, SECONDS_RANGE, "seconds per measurement")


def _period(text: str) -> float:
    """`--period`: µs between paced rings, in PERIOD_RANGE."""
    return number_in(text, PERIOD_RANGE, "µs")


def _work(text: str) -> float:
    """`--work`: µs of device work before a completion, 0 to 10,000."""
    return number_in(text, (0.0, 10_000.0), "µs")


def _at_least_one(text: str) -> int:
    """`--max-decoys`: a whole number ≥ 1."""
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _port(text: str) -> int:
    """`--port`: a TCP port number, 0 for any free one."""
    # ASCII digits only: str.isdigit() takes '²' (int() refuses it) and '٣' (port 3).
    if not (text.isascii() and text.isdigit()) or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
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
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the vCPU thread(s) to one CPU and the eventfd reader (and UI) to another",
    )
    parser.add_argument(
        "--record",
        metavar="FILE",
        default=None,
        help="record the session (every reading and event) to FILE (.gz: compressed)",
    )
    parser.add_argument(
        "--traced",
        action="store_true",
        help="witness the doorbells with the kernel's tracepoints too (a traced column; "
        "needs root and tracefs; costs the guest about 30%% of its ring rate on kvm_pvm)",
    )
    sub = parser.add_subparsers(dest="command")
    bench = sub.add_parser("bench", help="measure ioeventfd against userspace exits, headless")
    bench.add_argument(
        "--seconds",
        type=_seconds,
        default=1.0,
        help=f"seconds per path (default 1.0; {SECONDS_RANGE[0]:g} to {SECONDS_RANGE[1]:g})",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON document")
    bench.add_argument(
        "--reader",
        "--consumer",
        dest="reader",
        choices=(*READERS, "all"),
        default=None,
        help="eventfd reader: none (counts drained at each reading), poll (busy-polls), "
        "epoll (blocks in epoll_wait; the default), all (each in turn); "
        "--wake measures epoll and poll unless one is named (none: the kick's cost alone)",
    )
    bench.add_argument(
        "--pin",
        action="store_true",
        help="pin the vCPU thread(s) to one CPU and the eventfd reader to another",
    )
    bench.add_argument(
        "--wake",
        action="store_true",
        help="wake-up latency: guest write → eventfd reader running, paced rings",
    )
    bench.add_argument(
        "--period",
        type=_period,
        default=None,
        help="µs between paced rings, with --wake only (default 100; 1 to 100000)",
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
        "--roundtrip",
        action="store_true",
        help="kick → completion interrupt, per stage: ioeventfd + irqfd against a "
        "userspace exit + KVM_SIGNAL_MSI and the guest's self-IPI (reader epoll or poll)",
    )
    bench.add_argument(
        "--work",
        type=_work,
        default=None,
        help="µs the device spins before each completion, with --roundtrip only (default 0)",
    )
    bench.add_argument(
        "--bus",
        choices=("pio", "mmio"),
        default=None,
        help="bus for --scale (default pio), or the only bus for --roundtrip (default both)",
    )
    bench.add_argument(
        "--max-decoys",
        type=_at_least_one,
        default=None,
        help="largest decoy count for --scale (default 100,000; at least 1)",
    )
    tour = sub.add_parser(
        "tour", help="a guided tour of ioeventfd on the live VM, each step checked on the counts"
    )
    tour.add_argument(
        "file", nargs="?", help="a tour of your own (TOML; default: the one iofdtui ships)"
    )
    serve = sub.add_parser(
        "serve", help="run the app here and let browsers watch its lab read-only"
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: every "
        "network interface, so anyone who can reach it can watch)",
    )
    serve.add_argument(
        "--port", type=_port, default=8000, help="TCP port (default 8000; 0: any free port)"
    )
    serve.add_argument(
        "--record",
        default=argparse.SUPPRESS,  # absent, `iofdtui --record FILE serve`'s stands
        metavar="FILE",
        help="keep the session's recording in FILE (default: a temporary file)",
    )
    replay = sub.add_parser(
        "replay", help="replay a recording in the app (read-only; no /dev/kvm needed)"
    )
    replay.add_argument("file", nargs="?", help="the recording (JSON Lines, .gz or not)")
    replay.add_argument(
        "--follow",
        action="store_true",
        help="tail a recording another iofdtui is still writing (live, read-only)",
    )
    replay.add_argument(
        "--demo", action="store_true", help="play the recording shipped with iofdtui"
    )
    add_recording_commands(sub)
    attach_command.add_command(sub)
    return parser


def combination_error(args: argparse.Namespace) -> str | None:
    """Why the bench flags do not go together (a flag the mode would ignore), or None."""
    modes = [
        m
        for m, on in (
            ("--wake", args.wake),
            ("--scale", args.scale),
            ("--roundtrip", args.roundtrip),
        )
        if on
    ]
    if args.vcpus == 2:
        modes.append("--vcpus 2")
    if len(modes) > 1:
        return f"{' and '.join(modes)} are separate runs: pick one"
    mode = modes[0] if modes else None
    if args.period is not None and mode != "--wake":
        return "argument --period: only applies to --wake (the paced rings)"
    for flag, given in (("--bus", args.bus), ("--max-decoys", args.max_decoys)):
        if given is not None and mode != "--scale" and (flag, mode) != ("--bus", "--roundtrip"):
            return f"argument {flag}: only applies to --scale" + (
                " and --roundtrip" if flag == "--bus" else ""
            )
    if args.work is not None and mode != "--roundtrip":
        return "argument --work: only applies to --roundtrip"
    if mode == "--roundtrip" and (args.reader == "none" or args.pin):
        flag = "--pin" if args.pin else "--reader none"
        return f"argument {flag}: does not apply to --roundtrip (its reader answers every kick)"
    if mode == "--scale":
        if args.reader is not None:
            return "argument --reader: does not apply to --scale (its rings are counted)"
        if args.pin:
            return "argument --pin: does not apply to --scale"
    if mode == "--vcpus 2" and args.reader == "all":
        return "argument --reader: --vcpus 2 measures one reader per run: none, poll or epoll"
    return None


def replay_error(args: argparse.Namespace) -> str | None:
    """Why the replay flags do not go together, or None."""
    if args.demo and args.file:
        return "give a recording FILE or --demo, not both"
    if not args.demo and not args.file:
        return "name the recording to replay (iofdtui replay FILE), or use --demo"
    if args.demo and args.follow:
        return "argument --follow: the shipped demo is complete; follow a FILE being recorded"
    return None
