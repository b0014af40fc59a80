"""The commands that open a Textual app: the lab (and its tour), a replay,
the served lab, an attached VM.  Each checks what it needs first (/dev/kvm,
a terminal, a readable file), so a failure is one line before any VM or TUI."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from iofdtui.capture import attach as attach_command
from iofdtui.cli import running
from iofdtui.cli.flags import EXIT_ENV, NEED_TTY, OneLineParser, replay_error

if TYPE_CHECKING:
    from iofdtui.tour import Tour


REPLAY_NEEDS_TTY = "iofdtui: the replay needs a terminal (stdin and stdout must be a tty)"


def _can_record(path: str) -> bool:
    """Whether `path` can be written, said in one line when not: checked before any
    VM or tracing starts, so a session never ends up unrecorded."""
    from iofdtui.recording.writer import RecordWriteError, probe

    try:
        probe(path)
    except RecordWriteError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return False
    return True


def tour_app(args: argparse.Namespace) -> int:
    """The app with a guided tour open: a bad tour file is refused before any VM exists."""
    from iofdtui.tour import TourError, default_tour, load_tour

    try:
        tour = load_tour(args.file) if args.file else default_tour()
    except TourError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    return lab_app(args.vcpus, args.pin, args.record, tour=tour, traced=args.traced)


def lab_app(
    vcpus: int,
    pin: bool,
    record: str | None = None,
    tour: Tour | None = None,
    traced: bool = False,
) -> int:
    """Run the app; SIGTERM, SIGHUP and SIGINT end it as `q` does."""
    running.require_kvm()
    if not running.has_terminal():
        # Checked before any VM exists: a Textual app on a pipe draws forever.
        print(NEED_TTY, file=sys.stderr)
        return EXIT_ENV
    from iofdtui.ui.app import make_app

    if record is not None and not _can_record(record):
        return EXIT_ENV

    # Built here, as run_app does, so that a signal handler can reach the app.
    app = make_app(vcpus=vcpus, pin=pin, record=record, tour=tour, traced=traced)
    return running.run_tui(app)


def replay(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Open the recording (one line and exit 2 if it cannot be read), then the app."""
    problem = replay_error(args)
    if problem is not None:
        OneLineParser(prog=f"{parser.prog} replay").error(problem)
    from iofdtui.recording.reader import RecordingError
    from iofdtui.ui.replay.app import DEMO_SHOWN, ReplayApp, demo_path, open_recording

    if not args.demo and not args.follow:
        attached = _attach_replay(args.file)  # an attached VM's recording has its own view
        if attached is not None:
            return attached
    try:
        if args.demo:
            opened = open_recording(demo_path(), name=DEMO_SHOWN)
        else:
            opened = open_recording(args.file, follow_it=args.follow)
    except RecordingError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    if not running.has_terminal():
        print(REPLAY_NEEDS_TTY, file=sys.stderr)
        return EXIT_ENV
    return running.run_tui(ReplayApp(opened))


def _attach_replay(path: str) -> int | None:
    """Replay an attached VM's recording (None: the file is a lab's, or unreadable, which
    the lab's replay then says in its one line)."""
    from iofdtui.recording.reader import RecordingError, read_header

    try:
        if read_header(path).attach is None:
            return None
    except RecordingError:
        return None
    from iofdtui.ui.attach.replay import AttachReplayApp, open_attach_recording

    try:
        recording = open_attach_recording(path)
    except RecordingError as err:
        print(f"iofdtui: {err}", file=sys.stderr)
        return EXIT_ENV
    if not running.has_terminal():
        print(REPLAY_NEEDS_TTY, file=sys.stderr)
        return EXIT_ENV
    return running.run_tui(AttachReplayApp(recording, path))  # type: ignore[arg-type]


def serve(args: argparse.Namespace) -> int:
    """The app in this terminal, and a web server whose visitors each watch its recording."""
    running.require_kvm()
    if not running.has_terminal():
        print(NEED_TTY, file=sys.stderr)
        return EXIT_ENV
    from iofdtui.serve.presenter import Sharing

    if args.record is not None and not _can_record(args.record):
        return EXIT_ENV  # before any VM or server: the visitors would see nothing
    record = Path(args.record) if args.record is not None else None
    with Sharing(args.host, args.port, record) as sharing:
        app = sharing.app(vcpus=args.vcpus, pin=args.pin, record=str(sharing.recording))
        return running.run_tui(app)


def attach(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    problem = attach_command.usage_error(args)
    if problem is not None:
        OneLineParser(prog=f"{parser.prog} attach").error(problem)
    if attach_command.wants_app(args):
        return _attach_app(args.pid, args.exit_latency, args.record)
    with running.handlers(running.raise_ended):
        return attach_command.run(args)


def _attach_app(pid: int, exit_latency: bool = False, record: str | None = None) -> int:
    """The app on an attached VM; the tracer is opened first, so a failure is one line."""
    if not running.has_terminal():
        headless = f"iofdtui attach {pid} --seconds S"
        print(NEED_TTY.replace("iofdtui bench", headless), file=sys.stderr)
        return EXIT_ENV
    if record is not None and not _can_record(record):
        return EXIT_ENV
    from iofdtui.engine.attach.tracer import attached
    from iofdtui.ui.attach.app import AttachApp

    with attached(pid, exit_latency=exit_latency) as tracer:
        app = AttachApp(tracer, record=record)
        return running.run_tui(app)  # type: ignore[arg-type]  # its startup_error is None
