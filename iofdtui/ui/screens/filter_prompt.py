"""A one-line prompt for the address filter (kvm_stat's `f`)."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Static

from iofdtui.ui.screens.dialog import Dialog


class FilterPrompt(Dialog[str | None]):
    """Ask for an address fragment; rows whose address contains it stay visible."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    FilterPrompt > .dialog { width: 60; }
    FilterPrompt Static { color: $text-muted; }
    """

    def __init__(self, current: str) -> None:
        """Start from the filter in force."""
        super().__init__()
        self.current = current
        """The filter when the prompt opened."""

    def compose(self) -> ComposeResult:
        """An input and a hint."""
        with Vertical(classes="dialog") as box:
            box.border_title = "Filter registrations by address"
            yield Input(value=self.current, placeholder="e.g. 3f8 or fe00 or mmio")
            yield Static("Enter applies; an empty filter shows every registration.")

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        """Keep the current filter."""
        self.dismiss(None)
