"""A modal for details too long for a toast: what stopped the guest, with its registers."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from iofdtui.engine.errors import GuestFault
from iofdtui.ui.screens.dialog import Dialog


class ErrorModal(Dialog[None]):
    """The error's title on the border, its full text inside; Escape (or Enter) closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    ErrorModal > .dialog { width: 90%; max-width: 100; max-height: 80%; border: thick $error; }
    ErrorModal #error-text { color: $error; }
    ErrorModal #error-hint { color: $text-muted; margin: 1 0 0 0; }
    """

    def __init__(self, title: str, text: str, hint: str = "") -> None:
        """Show `text` under `title`; `hint` says what to do next."""
        super().__init__()
        self.error_title = title
        """The short heading (the engine error's `title`)."""
        self.text = text
        """The whole detail, as the engine gave it."""
        self.hint = hint
        """What to do next, if anything."""

    @classmethod
    def guest_fault(cls, fault: str | None) -> ErrorModal:
        """What stopped the guest, with its registers, and what to do about it."""
        return cls(
            GuestFault.title,
            fault or "the guest faulted, and the engine kept no detail",
            "The guest cannot ring again: Escape, then q, and start iofdtui again.",
        )

    def compose(self) -> ComposeResult:
        """The detail, the hint, the footer."""
        with VerticalScroll(classes="dialog") as box:
            box.border_title = self.error_title
            yield Static(self.text, id="error-text", markup=False)
            if self.hint:
                yield Static(self.hint, id="error-hint")
        yield Footer()

    def action_close(self) -> None:
        """Back to the lab."""
        self.dismiss(None)
