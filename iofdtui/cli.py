"""The `iofdtui` command: the app by default, `iofdtui bench` headless.

Every way it can fail that a person can act on ends in one line on stderr
(`iofdtui: <cause>; <fix>`) and exit status 2, never a traceback: bad flags
(argparse, with a one-line `error`), an engine that cannot start (any
`OSError`), no terminal for the app.  SIGTERM, SIGHUP (and SIGINT) end the app
the way `q` does, so the terminal is restored and the VM closed.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from iofdtui.capture import attach as attach_command
from iofdtui.capture.commands import COMMANDS as RECORDING_COMMANDS
from iofdtui.capture.commands import add_commands as add_recording_commands
from iofdtui.capture.commands import run as run_recording_command
from iofdtui.engine.errors import EngineError, KvmUnavailable

if TYPE_CHECKING:
    from rich.console import RenderableType

    from iofdtui.tour import Tour
    from iofdtui.ui.app import IofdApp

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

NO_KVM_HINT = "to see iofdtui without KVM: iofdtui replay --demo"
"""Said after every reason the lab cannot start here."""

END_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
"""Signals that end a run cleanly: the app as `q` does, the bench with one line."""


# ------------------------------------------------------------------- flags


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: `<prog>: <what>; see <prog> --help`."""

    def error(self, message: str) -> NoReturn:
        """Print one line (no usage block) and exit 2, as argparse does."""
        self.exit(EXIT_ENV, f"{self.prog}: {message}; see {self.prog} --help\n")


def _number_in(text: str, bounds: tuple[float, float], what: str) -> float:
    """A finite number within `bounds`, or argparse's one-line refusal."""
    low, high = bounds
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"must be {what} from {low:g} to {high:g}, got {text!r}")
    return value


def _seconds(text: str) -> float:
    """`--seconds`: a finite number of seconds in SECONDS_RANGE."""
    return _number_in(text, SECONDS_RANGE, "seconds per measurement")


def _period(text: str) -> float:
    """`--period`: µs between paced rings, in PERIOD_RANGE."""
    return _number_in(text, PERIOD_RANGE, "µs")


def _work(text: str) -> float:
    """`--work`: µs of device work before a completion, 0 to 10,000."""
    return _number_in(text, (0.0, 10_000.0), "µs")


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
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 0 to 65535, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
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


# ------------------------------------------------------------------ output


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
                f"{p.bus.value} len {fmt.length(p.width)} {p.path}, reader {reader}"
            ),
        ),
        render,
    )


# --------------------------------------------------------------- the app


WEB_DRIVER = "textual.drivers.web_driver:WebDriver"
"""The driver textual-serve runs each browser's app with, on pipes to the page."""


def _has_terminal() -> bool:
    """A terminal to draw on: a tty at both ends, or a browser's (`iofdtui serve`)."""
    if os.environ.get("TEXTUAL_DRIVER") == WEB_DRIVER:
        return True
    return sys.stdin.isatty() and sys.stdout.isatty()


def _tour(args: argparse.Namespace) -> int:
    """The app with a guided tour open: a bad tour file is refused before any VM exists."""
    from iofdtui.tour import TourError, default_tour, load_tour

    try:
        tour = load_tour(args.file) if args.file else default_tour()
    except TourError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    return _app(args.vcpus, args.pin, args.record, tour=tour)


def require_kvm() -> None:
    """Raise `KvmUnavailable` unless /dev/kvm is a usable KVM device: checked before
    any VM or TUI exists, so a machine without KVM gets one line, not an app."""
    from iofdtui.engine.kvm_device import kvm_problem

    problem = kvm_problem()
    if problem is not None:
        raise KvmUnavailable(*problem)


def _app(vcpus: int, pin: bool, record: str | None = None, tour: Tour | None = None) -> int:
    """Run the app; SIGTERM, SIGHUP and SIGINT end it as `q` does."""
    require_kvm()
    if not _has_terminal():
        # Checked before any VM exists: a Textual app on a pipe draws forever.
        print(NEED_TTY, file=sys.stderr)
        return EXIT_ENV
    from iofdtui.ui.app import make_app

    if record is not None:
        from iofdtui.recording.writer import RecordWriteError, probe

        try:
            probe(record)  # before any VM: a session should not end up unrecorded
        except RecordWriteError as err:
            print(f"iofdtui: {err}", file=sys.stderr)
            return EXIT_ENV

    # Built here, as run_app does, so that a signal handler can reach the app.
    return _run_tui(make_app(vcpus=vcpus, pin=pin, record=record, tour=tour))


def replay_error(args: argparse.Namespace) -> str | None:
    """Why the replay flags do not go together, or None."""
    if args.demo and args.file:
        return "give a recording FILE or --demo, not both"
    if not args.demo and not args.file:
        return "name the recording to replay (iofdtui replay FILE), or use --demo"
    if args.demo and args.follow:
        return "argument --follow: the shipped demo is complete; follow a FILE being recorded"
    return None


def _replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Open the recording (one line and exit 2 if it cannot be read), then the app."""
    problem = replay_error(args)
    if problem is not None:
        _Parser(prog=f"{parser.prog} replay").error(problem)
    from iofdtui.recording.reader import RecordingError
    from iofdtui.ui.replay.app import DEMO_SHOWN, ReplayApp, demo_path, open_recording

    try:
        if args.demo:
            opened = open_recording(demo_path(), name=DEMO_SHOWN)
        else:
            opened = open_recording(args.file, follow_it=args.follow)
    except RecordingError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    if not _has_terminal():
        print(
            "iofdtui: the replay needs a terminal (stdin and stdout must be a tty)", file=sys.stderr
        )
        return EXIT_ENV
    return _run_tui(ReplayApp(opened))


def _run_tui(app: IofdApp) -> int:
    """Run `app` in the terminal; SIGTERM, SIGHUP and SIGINT end it as `q` does."""
    from iofdtui.ui.app import EXIT_NO_VM

    caught: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if caught:
            return  # already ending (`timeout` sends SIGTERM to the child and its group)
        caught.append(signum)
        # Textual's SIGCONT handler re-enters raw mode; `timeout` sends SIGCONT
        # right after SIGTERM, which would undo the teardown's tty restore.
        signal.signal(signal.SIGCONT, signal.SIG_DFL)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # No event loop (not started yet, or already gone): nothing is drawn.
            raise _Ended(signum) from None
        # A Python signal handler runs in the main thread, which is the app's
        # loop thread; scheduling exit() wakes the loop and quits as `q` does.
        loop.call_soon_threadsafe(app.exit, None, 128 + signum)

    with _handlers(on_signal):
        result = app.run()
    if caught:
        return 128 + caught[0]
    if result is not None:
        return int(result)
    return EXIT_NO_VM if app.startup_error else (app.return_code or 0)


def _serve(args: argparse.Namespace) -> int:
    """The app in this terminal, and a web server whose visitors each watch its recording."""
    require_kvm()
    if not _has_terminal():
        print(NEED_TTY, file=sys.stderr)
        return EXIT_ENV
    from iofdtui.recording.writer import RecordWriteError, probe
    from iofdtui.serve.presenter import Sharing

    if args.record is not None:
        try:
            probe(args.record)  # before any VM or server: the visitors would see nothing
        except RecordWriteError as err:
            print(f"iofdtui: {err}", file=sys.stderr)
            return EXIT_ENV
    record = Path(args.record) if args.record is not None else None
    with Sharing(args.host, args.port, record) as sharing:
        app = sharing.app(vcpus=args.vcpus, pin=args.pin, record=str(sharing.recording))
        return _run_tui(app)


# ---------------------------------------------------------------- signals


class _Ended(BaseException):
    """A signal that ends the run (BaseException: no `except Exception` swallows it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_ended(signum: int, _frame: FrameType | None) -> None:
    raise _Ended(signum)


@contextmanager
def _handlers(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """Install `handler` for END_SIGNALS for the block, then put the old ones back."""
    old = {sig: signal.signal(sig, handler) for sig in END_SIGNALS}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


# ------------------------------------------------------------------ errors

_FIXES = {
    errno.EMFILE: "raise the open-file limit (ulimit -n) and run again",
    errno.ENFILE: "the system is out of file handles: close some programs and run again",
    errno.ENOMEM: "free some memory and run again",
    errno.EACCES: "check the permissions on /dev/kvm (the kvm group) and run again",
    errno.EPERM: "check the permissions on /dev/kvm (the kvm group) and run again",
    errno.EBUSY: "another program holds the device; close it and run again",
}


def os_error_line(err: OSError) -> str:
    """One line for an OSError: the engine's own (cause and fix), or cause; fix by errno."""
    if isinstance(err, KvmUnavailable):
        return f"iofdtui: {err}; {NO_KVM_HINT}"
    if isinstance(err, EngineError):
        return f"iofdtui: {err}"
    cause = err.strerror or str(err) or type(err).__name__
    if err.filename is not None:
        cause = f"{err.filename}: {cause}"
    fix = _FIXES.get(err.errno or 0, "check dmesg for KVM messages, then run again")
    return f"iofdtui: {cause}; {fix}"


def _run_bench(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    problem = combination_error(args)
    if problem is not None:
        _Parser(prog=f"{parser.prog} bench").error(problem)
    require_kvm()
    with _handlers(_raise_ended):
        if args.wake:
            return _wake(args)
        if args.vcpus == 2:
            return _vcpus(args)
        if args.roundtrip:
            return _roundtrip(args)
        return _scale(args) if args.scale else _bench(args)


def _attach(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    problem = attach_command.usage_error(args)
    if problem is not None:
        _Parser(prog=f"{parser.prog} attach").error(problem)
    if attach_command.wants_app(args):
        return _attach_app(args.pid)
    with _handlers(_raise_ended):
        return attach_command.run(args)


def _attach_app(pid: int) -> int:
    """The app on an attached VM; the tracer is opened first, so a failure is one line."""
    if not _has_terminal():
        headless = f"iofdtui attach {pid} --seconds S"
        print(NEED_TTY.replace("iofdtui bench", headless), file=sys.stderr)
        return EXIT_ENV
    from iofdtui.engine.attach.tracer import attached
    from iofdtui.ui.attach.app import AttachApp

    with attached(pid) as tracer:
        return _run_tui(AttachApp(tracer))  # type: ignore[arg-type]  # its startup_error is None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench":
            return _run_bench(parser, args)
        if args.command == "serve":
            return _serve(args)
        if args.command == attach_command.COMMAND:
            return _attach(parser, args)
        if args.command == "replay":
            return _replay(parser, args)
        if args.command in RECORDING_COMMANDS:
            if args.command == "record":
                require_kvm()  # a lab command: one line before anything is written
            with _handlers(_raise_ended):
                return run_recording_command(args)
        if args.command == "tour":
            return _tour(args)
        return _app(args.vcpus, args.pin, args.record)
    except BrokenPipeError:
        # `iofdtui bench | head`: the reader left; say nothing more, and keep
        # Python's exit-time flush of stdout from failing too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as err:
        print(os_error_line(err), file=sys.stderr)
        return EXIT_ENV
    except ValueError as err:
        # What the engine refuses for this machine, e.g. --pin with one CPU allowed.
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    except _Ended as end:
        name = signal.Signals(end.signum).name
        print(f"iofdtui: stopped by {name} before it finished", file=sys.stderr)
        return 128 + end.signum
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
