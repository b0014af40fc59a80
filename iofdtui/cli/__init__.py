"""The `iofdtui` command: the app by default, and its subcommands.

Every way it can fail that a person can act on ends in one line on stderr
(`iofdtui: <cause>; <fix>`) and exit status 2, never a traceback: bad flags
(argparse, with a one-line `error`), an engine that cannot start (any
`OSError`), no terminal for the app.  SIGTERM, SIGHUP (and SIGINT) end the app
the way `q` does, so the terminal is restored and the VM closed.

`flags.py` holds the flags, `bench.py` the bench's modes, `apps.py` the
commands that open an app, `running.py` what every run shares.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from iofdtui.capture import attach as attach_command
from iofdtui.capture.commands import COMMANDS as RECORDING_COMMANDS
from iofdtui.capture.commands import run as run_recording_command
from iofdtui.cli import apps, bench, running
from iofdtui.cli.bench import bench_readers
from iofdtui.cli.flags import (
    EXIT_ENV,
    NEED_TTY,
    NO_KVM_HINT,
    READERS,
    STDOUT_CLOSED,
    WAKE_READERS,
    build_parser,
    combination_error,
)
from iofdtui.cli.running import os_error_line

__all__ = [
    "EXIT_ENV",
    "NEED_TTY",
    "NO_KVM_HINT",
    "READERS",
    "WAKE_READERS",
    "bench_readers",
    "combination_error",
    "main",
    "os_error_line",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if sys.stdout is None:
        # Started with fd 1 closed (`>&-`): Python has no stdout to print to.
        print(STDOUT_CLOSED, file=sys.stderr)
        return EXIT_ENV
    try:
        if args.command == "bench":
            return bench.run(parser, args)
        if args.command == "serve":
            return apps.serve(args)
        if args.command == attach_command.COMMAND:
            return apps.attach(parser, args)
        if args.command == "replay":
            return apps.replay(parser, args)
        if args.command in RECORDING_COMMANDS:
            if args.command == "record":
                running.require_kvm()  # a lab command: one line before anything is written
            with running.handlers(running.raise_ended):
                return run_recording_command(args)
        if args.command == "tour":
            return apps.tour_app(args)
        return apps.lab_app(args.vcpus, args.pin, args.record, traced=args.traced)
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
    except running.Ended as end:
        name = signal.Signals(end.signum).name
        print(f"iofdtui: stopped by {name} before it finished", file=sys.stderr)
        return 128 + end.signum
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
