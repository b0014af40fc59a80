"""What the app shows when the test VM cannot start."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Footer, Static

from iofdtui.ui.screens.dialog import Dialog


class StartupErrorScreen(Dialog[None]):
    """One line with the cause and the fix; `q` leaves with exit status 2.

    Modal, so none of the lab's keys (which need a VM) are offered.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit", tooltip="Leave iofdtui (exit status 2).")
    ]

    DEFAULT_CSS = """
    StartupErrorScreen { background: $background; }
    StartupErrorScreen > .dialog {
        width: 90%;
        max-width: 100;
        border: thick $error;
        background: transparent;  /* the screen's own background shows through */
        padding: 1 2;
    }
    StartupErrorScreen #cause { color: $error; text-style: bold; }
    StartupErrorScreen #hint { color: $text-muted; margin: 1 0 0 0; }
    """

    def __init__(self, message: str) -> None:
        """Show `message`, the engine's one-line cause and fix."""
        super().__init__()
        self.message = message
        """The cause and the fix, one line."""

    def compose(self) -> ComposeResult:
        """The message and what to do next."""
        with Vertical(classes="dialog") as box:
            box.border_title = "The test VM could not start"
            yield Static(self.message, id="cause", markup=False)
            yield Static(
                "iofdtui needs a usable /dev/kvm to run its doorbell guest. "
                "Fix the above, then run iofdtui again. Press q to quit.",
                id="hint",
            )
        yield Footer()
