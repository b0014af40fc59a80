"""`iofdtui attach PID`'s commands: the attached app is read-only, so the lab's keys
that act on a VM (add, remove, plan, reader, pace) are not there; the view's are
(filter, sort, pause the display), on the lab's keys."""

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
    ),
    Command(
        "reset",
        "r",
        "Reset",
        "Reset counts",
        "Zero the attached VM's counts; tracing goes on",
        "reset",
        scope="app",
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
