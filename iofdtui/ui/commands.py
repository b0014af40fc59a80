"""The command palette: every app action, offered only when it applies."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from iofdtui.ui.app import IofdApp

COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("Add registration", "Register an ioeventfd on a doorbell (a)", "add"),
    ("Remove selected registration", "Deassign the eventfd under the cursor (d)", "remove"),
    ("Edit ring plan", "Choose the doorbells the guest rings and their values (e)", "edit_plan"),
    ("Pause guest", "Park the guest at a quiescent point; counts become exact (p)", "pause"),
    ("Resume guest", "Let the paused guest ring again (p)", "resume"),
    ("Reset counters", "Zero every count and histogram (r)", "reset"),
    (
        "Cycle eventfd reader",
        "none → poll → epoll: nobody waiting, a busy-polling thread, a sleeping one (c)",
        "cycle_reader",
    ),
    (
        "Pin vCPU and reader to separate CPUs",
        "vCPU thread(s) on one CPU, the reader and the UI on another; again to unpin",
        "toggle_pinning",
    ),
    (
        "Pace the plan / ring flat out",
        "One ring every 100 µs, so each wake-up of the eventfd reader is timed (w)",
        "toggle_pace",
    ),
    (
        "Switch one/two vCPUs",
        "Restart the VM with two vCPUs ringing the same plan, or back to one (v)",
        "toggle_vcpus",
    ),
    ("Cycle refresh interval", "Change how often the tables refresh (s)", "cycle_interval"),
    ("Filter by address", "Show only registrations whose address matches (f)", "filter"),
    ("Cycle sort order", "Sort by id, address, signals, rate, p50, ratio (o)", "sort"),
    (
        "Scale plot",
        "Measure ring cost vs decoy registrations and trigger values, and plot it (x)",
        "scale_plot",
    ),
    ("Save SVG screenshot", "Write the screen to screenshots/ (S)", "screenshot"),
    ("Help", "What ioeventfd is and how to read every column (h)", "help"),
    ("Quit", "Stop the VM, close every fd, leave (q)", "quit"),
)
"""(title, help, action) of every command."""


class IofdCommands(Provider):
    """Commands for the lab; Pause or Resume depending on the guest's state."""

    def _available(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast("IofdApp", self.app)
        out = []
        for title, help_text, action in COMMANDS:
            # The same rule the footer uses, so palette and bindings agree.
            if app.check_action(action, ()) is True:
                out.append((title, help_text, partial(app.run_action, action)))
        return out

    async def discover(self) -> Hits:
        """Everything available, for the palette with no query."""
        for title, help_text, callback in self._available():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match the query against the available commands."""
        matcher = self.matcher(query)
        for title, help_text, callback in self._available():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
