"""The device-work prompt (`W`): how long the selected registration's device computes
before it answers a kick with its interrupt.

The reader thread plays the device: it wakes on the registration's eventfd,
spins this long, then writes the completion's irqfd.  So the work is the
stage bar's "awake→written", per registration, as each device has its own.
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from iofdtui.engine.completion_stats import MAX_DEVICE_WORK_US
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui import completion_calls
from iofdtui.ui.screens.dialog import Dialog

if TYPE_CHECKING:
    from iofdtui.ui.session import LabSession

_WORK = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(µs|us|ms)?\s*", re.IGNORECASE)


def parse_work(text: str) -> tuple[float | None, str]:
    """`50`, `50 µs`, `50us` or `0.2ms` as µs, with a one-line verdict; (None, why) when
    it is not a device work the engine takes (0..10,000 µs)."""
    match = _WORK.fullmatch(text)
    if not text.strip():
        return None, "type the device's work in µs (0: it answers at once)"
    if match is None:
        return None, f"{text.strip()!r} is not a time: type µs (50) or ms (0.2ms)"
    value = float(match.group(1)) * (1000 if (match.group(2) or "").lower() == "ms" else 1)
    if not math.isfinite(value) or value > MAX_DEVICE_WORK_US:
        return None, f"at most {MAX_DEVICE_WORK_US:,.0f} µs (10 ms): the reader serves every device"
    return value, f"ready: spin {value:g} µs before each answer"


class DeviceWorkPrompt(Dialog[float | None]):
    """Ask for a registration's device work in µs; dismissed with it, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Keep the device work in force.")
    ]

    DEFAULT_CSS = """
    DeviceWorkPrompt > .dialog { width: 72; }
    DeviceWorkPrompt #work-hint { color: $text-muted; }
    """

    def __init__(self, reg_id: int, describe: str, current_us: float) -> None:
        """The prompt for registration `reg_id` (`describe`: its spec), at `current_us`."""
        super().__init__()
        self.reg_id = reg_id
        """The registration whose device this sets."""
        self.describe = describe
        """Its spec, as the title says it."""
        self.current_us = current_us
        """The work in force when the prompt opened."""

    def compose(self) -> ComposeResult:
        """An input, its problem line and a hint."""
        with Vertical(classes="dialog") as box:
            box.border_title = f"Device work of #{self.reg_id} ({self.describe})"
            yield Input(value=f"{self.current_us:g}", placeholder="µs, e.g. 50", id="work")
            yield Static("", id="problem")
            yield Static(
                "The reader (the device thread) spins this long after it wakes, then "
                "writes the irqfd: the stage bar's awake→written. Enter applies.",
                id="work-hint",
            )

    def on_mount(self) -> None:
        """Show the verdict on what is there already."""
        self._check(self.query_one("#work", Input).value)

    def _check(self, text: str) -> float | None:
        value, verdict = parse_work(text)
        problem = self.query_one("#problem", Static)
        problem.update(verdict)
        problem.set_class(value is not None, "-ok")
        self.query_one("#work", Input).set_class(value is None, "-invalid")
        return value

    @on(Input.Changed, "#work")
    def _changed(self, event: Input.Changed) -> None:
        self._check(event.value)

    @on(Input.Submitted, "#work")
    def _submitted(self, event: Input.Submitted) -> None:
        value = self._check(event.value)
        if value is not None:
            self.dismiss(value)

    def action_cancel(self) -> None:
        """Keep the work in force."""
        self.dismiss(None)


def ask_device_work(screen: Screen[object], snapshot: Snapshot | None, session: LabSession) -> None:
    """`W` on the main screen: the prompt for the selected registration's device work,
    applied through `session`; a plain one-line notice when there is nothing to set."""
    selected = session.selected
    rows = snapshot.registrations if snapshot is not None else ()
    stats = next((r for r in rows if r.id == selected), None)
    if stats is None:
        screen.notify("Select a registration first.", title="No device work", severity="warning")
        return
    if stats.completion is None:
        screen.notify(
            f"#{stats.id} has no completion, so no device answers it: add a registration "
            "with a completion (a, complete: MSI or pin) and select it.",
            title="No device work",
            severity="warning",
        )
        return
    reg_id = stats.id

    def apply(work_us: float | None) -> None:
        if work_us is not None:
            session.call(
                f"setting #{reg_id}'s device work",
                partial(completion_calls.set_device_work, reg_id=reg_id, work_us=work_us),
            )

    prompt = DeviceWorkPrompt(reg_id, stats.spec.describe(), stats.completion.device_work_us)
    screen.app.push_screen(prompt, apply)
