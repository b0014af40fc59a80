"""`iofdtui attach PID`'s commands: the attached app is read-only, so the lab's keys
that act on a VM (add, remove, plan, reader, pace) are not there; the view's are
(filter, sort, pause the display, record), on the lab's keys.

Those marked `needs_lab` act on the live trace: replaying an attached VM's
recording, they say in one line that it is a recording, and the timeline's keys
(`keys/replay.py`) take their place in the footer, palette and help."""

from __future__ import annotations

from iofdtui.ui.keys.command import Command

ATTACH_COMMANDS: tuple[Command, ...] = (
    Command(
        "pause_display",
        "p",
        "Pause",
        "Pause display",
        "Hold the tables still; tracing goes on, and resuming shows the counts since",
        "pause/resume the display",
        scope="app",
        needs_lab=True,
    ),
    Command(
        "reset",
        "r",
        "Reset",
        "Reset counts",
        "Zero the attached VM's counts; tracing goes on",
        "reset",
        scope="app",
        needs_lab=True,
    ),
    Command(
        "filter",
        "f",
        "Filter",
        "Filter doorbells",
        "Show only the doorbells whose bus or address contains a text",
        "filter",
        scope="app",
    ),
    Command(
        "sort",
        "o",
        "Sort",
        "Sort doorbells",
        "Cycle the doorbells' order: address, writes, writes/s, exits, in kernel %",
        "sort",
        scope="app",
    ),
    Command(
        "toggle_recording",
        "R",
        "Rec",
        "Record / stop recording",
        "Record every reading to iofdtui-attach-<time>.jsonl.gz here, or stop "
        "(iofdtui replay and export read it)",
        "record",
        scope="app",
        needs_lab=True,
    ),
    Command(
        "screenshot",
        "S",
        "Shot",
        "Save screenshot",
        "Save an SVG screenshot to screenshots/",
        "screenshot",
        footer=False,
        scope="app",
    ),
    Command(
        "help",
        "h",
        "Help",
        "Help",
        "What every column means, and the keys",
        "help",
        aliases=("question_mark",),
        scope="app",
    ),
    Command(
        "quit",
        "q",
        "Quit",
        "Quit",
        "Stop tracing, remove the tracefs instance, leave",
        "quit",
        scope="app",
    ),
)
"""In footer and help order."""
