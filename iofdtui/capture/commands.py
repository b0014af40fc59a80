"""The `iofdtui record` and `iofdtui export` commands: their flags and their runs.

`cli.py` adds the subcommands with `add_commands` and hands a parsed
command to `run`; every failure is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from iofdtui.capture.headless import CHECKPOINT_S, READING_S, parse_plan
from iofdtui.recording.attach_export import (
    attach_column_help,
    write_attach_csv,
    write_attach_json,
)
from iofdtui.recording.export import column_help, write_csv, write_json
from iofdtui.recording.reader import RecordingError, read_recording
from iofdtui.recording.writer import RecordWriteError

COMMANDS = ("record", "export")
RECORD_SECONDS = (0.5, 86_400.0)
EXIT_FAILED = 2


def number_in(text: str, bounds: tuple[float, float], what: str) -> float:
    """A finite number within `bounds`, or argparse's one-line refusal (every command's
    numeric flags, the lab's included)."""
    low, high = bounds
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"must be {what} from {low:g} to {high:g}, got {text!r}")
    return value


def _record_seconds(text: str) -> float:
    return number_in(text, RECORD_SECONDS, "seconds")


def _reading_seconds(text: str) -> float:
    return number_in(text, (0.1, 60.0), "seconds between readings")


def _plan(text: str) -> list[object]:
    try:
        return list(parse_plan(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `record` and `export` to the CLI's subcommands."""
    record = sub.add_parser(
        "record",
        help="record the demo headless (no terminal) to a file that replay and export read",
        description="Run the demo the app opens on (or --plan) with no terminal, read it every "
        f"--every seconds and take an exact checkpoint every {CHECKPOINT_S:g} s and at the end, "
        "and write each reading as a frame. FILE ending in .gz is gzip-compressed.",
    )
    record.add_argument("file", metavar="FILE", help="the recording to write (.jsonl or .jsonl.gz)")
    record.add_argument(
        "--seconds",
        type=_record_seconds,
        default=10.0,
        help=f"how long to record (default 10; {RECORD_SECONDS[0]:g} to {RECORD_SECONDS[1]:g})",
    )
    record.add_argument(
        "--every",
        type=_reading_seconds,
        default=READING_S,
        help=f"seconds between readings, one frame each (default {READING_S:g})",
    )
    record.add_argument("--vcpus", type=int, choices=(1, 2), default=1, help="vCPUs ringing")
    record.add_argument(
        "--plan",
        type=_plan,
        default=None,
        help="the ring plan instead of the demo's: BUS:ADDR:WIDTH:VALUE[:WEIGHT] writes "
        "separated by commas, e.g. pio:0x3f8:1:0x42,mmio:0xfe000000:4:0x2:8 "
        "(the demo's registrations stay)",
    )
    record.add_argument("--note", default=None, help="a note kept in the recording's header")
    record.add_argument(
        "--source",
        choices=("headless", "demo"),
        default="headless",
        help="what the header says made it: headless (default), or demo for the recording "
        "shipped with iofdtui (iofdtui/recording/demo.jsonl.gz)",
    )

    export = sub.add_parser(
        "export",
        help="a recording as CSV or JSON tables: per registration and per doorbell, per frame",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "One row per registration and per doorbell at every frame. CSV is one file with "
            "a `table` column (registration or doorbell; a column that does not apply is "
            "empty); JSON is one document with the header and a `registrations` and a "
            "`doorbells` list (null: no figure).",
            78,
        )
        + "\n\ncolumns:\n"
        + column_help()
        + "\n"
        + attach_column_help(),
    )
    export.add_argument("file", metavar="FILE", help="the recording to read")
    out = export.add_mutually_exclusive_group(required=True)
    out.add_argument("--csv", metavar="OUT", help="write CSV to OUT (- for stdout)")
    out.add_argument("--json", metavar="OUT", help="write JSON to OUT (- for stdout)")


def run(args: argparse.Namespace) -> int:
    """Run `record` or `export`; one line on stderr and status 2 on failure."""
    try:
        return _record(args) if args.command == "record" else _export(args)
    except (RecordingError, RecordWriteError) as err:
        print(f"iofdtui {args.command}: {err}", file=sys.stderr)
        return EXIT_FAILED


def _record(args: argparse.Namespace) -> int:
    from rich.console import Console

    from iofdtui.capture.headless import record_headless

    with Console(stderr=True).status("recording…") as status:
        done = record_headless(
            args.file,
            args.seconds,
            vcpus=args.vcpus,
            plan=args.plan,
            reading_s=args.every,
            note=args.note,
            source=args.source,
            progress=lambda at: status.update(f"recording… {at:.0f} of {args.seconds:g} s"),
        )
    print(done.summary())
    return 0


@contextmanager
def _output(name: str) -> Iterator[TextIO]:
    if name == "-":
        yield sys.stdout
        return
    try:
        file = Path(name).open("w", encoding="utf-8", newline="")  # noqa: SIM115 (with below)
    except OSError as err:
        raise RecordWriteError(f"cannot write {name}: {err.strerror or err}") from None
    with file:
        yield file


def _export(args: argparse.Namespace) -> int:
    recording = read_recording(args.file)
    for note in recording.notes:
        print(f"iofdtui export: {args.file}: {note}", file=sys.stderr)
    target, write = (args.csv, write_csv) if args.csv is not None else (args.json, write_json)
    if recording.header.attach is not None:  # an attached VM's: per doorbell, its own columns
        write = write_attach_csv if args.csv is not None else write_attach_json
    try:
        with _output(target) as out:
            count = write(recording, out)
    except BrokenPipeError:
        raise  # `export --csv - | head`: the CLI leaves quietly
    except OSError as err:
        raise RecordWriteError(f"cannot write {target}: {err.strerror or err}") from None
    if target != "-":
        frames = len(recording.frames) + len(recording.attach_frames)
        print(f"exported {count:,} rows from {frames:,} frames to {target}", file=sys.stderr)
    return 0
