"""Printing a report whole: every table at its natural width, notes wrapped."""

from __future__ import annotations

import sys
from typing import IO

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table

TEXT_WIDTH = 100
"""Width of notes printed to a pipe or file (a terminal uses its own)."""


def print_report(renderable: RenderableType, file: IO[str] | None = None) -> None:
    """Print a report's tables at their natural width, never squeezed.

    Rich squeezes a table to the console (80 columns when the output is a pipe
    or a file) and cuts numbers to `618,…`: each table gets at least its own
    width, so a figure is never truncated; a narrow terminal wraps the lines
    instead. Notes wrap at the terminal's width, or TEXT_WIDTH off a terminal.
    `file` is stdout unless given.
    """
    probe = Console(width=10_000)
    base = Console(file=file).width if (file or sys.stdout).isatty() else TEXT_WIDTH
    items = renderable.renderables if isinstance(renderable, Group) else [renderable]
    for item in items:
        width = base
        if isinstance(item, Table):
            natural = Measurement.get(probe, probe.options, item).maximum
            width = max(base, natural)
        Console(file=file, width=width).print(item)
