"""The ring-plan editor: which doorbells the guest rings, with which values and mix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Footer, Input, Label, Select, Static

from iofdtui.engine.model import MAX_SLOTS, SlotSpec, SpecError
from iofdtui.ui.screens.dialog import Dialog
from iofdtui.ui.widgets.plan_line import PlanLine


class RingPlanScreen(Dialog[list[SlotSpec] | None]):
    """Edit the plan line by line; dismissed with the new plan, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Keep the current plan."),
        Binding("ctrl+n", "add_line", "New line", tooltip="Add a doorbell write."),
        Binding("ctrl+r", "apply", "Apply", tooltip="Make the guest ring this plan."),
    ]

    DEFAULT_CSS = """
    RingPlanScreen > .dialog { width: 84; max-height: 100%; }
    RingPlanScreen #heads { height: 1; color: $text-muted; }
    RingPlanScreen #heads > Label { padding: 0; }
    RingPlanScreen #lines { height: auto; max-height: 20; }
    RingPlanScreen #problem { min-height: 1; }
    """

    def __init__(self, plan: Sequence[SlotSpec]) -> None:
        """Start from the plan the guest rings now."""
        super().__init__()
        self.plan = list(plan)
        """The plan when the editor opened."""

    def compose(self) -> ComposeResult:
        """Column heads, one line per write, the problem line, buttons."""
        with Vertical(id="plan", classes="dialog") as box:
            box.border_title = "Ring plan: the guest rings these writes in turn"
            with Horizontal(id="heads"):
                for text, width in (
                    ("bus", 11),
                    ("address", 38),
                    ("width", 10),
                    ("value", 15),
                    ("weight", 9),
                ):
                    yield Label(text).set_styles(f"width: {width};")
            with VerticalScroll(id="lines"):
                for slot in self.plan:
                    yield PlanLine(slot)
            yield Static("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("New line", id="add-line")
                yield Button("Cancel", id="cancel")
                yield Button("Apply", variant="primary", id="apply")
        yield Footer()

    def on_mount(self) -> None:
        """Say whether the starting plan is valid."""
        self.validate_plan()

    def validate_plan(self) -> list[SlotSpec] | None:
        """Read every line; say what is wrong with the first bad one."""
        problem = self.query_one("#problem", Static)
        slots: list[SlotSpec] = []
        seen: set[tuple[object, ...]] = set()
        error = None
        for number, line in enumerate(self.query(PlanLine), 1):
            try:
                slot = line.slot()
            except SpecError as err:
                line.mark(err.field)
                error = error or f"line {number}: {err}"
                continue
            except ValueError as err:
                line.mark(str(err).split(":")[0].replace("address", "addr"))
                error = error or f"line {number}: {err}"
                continue
            identity = (slot.bus, slot.addr, slot.width, slot.value)
            if identity in seen:
                line.mark("value")
                error = error or f"line {number}: the same write is already in the plan"
                continue
            seen.add(identity)
            line.mark(None)
            slots.append(slot)
        if error is None and len(slots) > MAX_SLOTS:
            error = f"the guest rings at most {MAX_SLOTS} writes"
        if error is None:
            rings = sum(s.rings_per_visit for s in slots)
            text = (
                f"{len(slots)} writes, {rings} rings per round (weight = blocks of 16 rings)"
                if slots
                else "an empty plan: the guest rings nothing"
            )
        problem.update(error or text)
        problem.set_class(error is None, "-ok")
        self.query_one("#apply", Button).disabled = error is not None
        return None if error else slots

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.validate_plan()

    @on(Button.Pressed, "#remove-line")
    async def _remove_line(self, event: Button.Pressed) -> None:
        line = event.button.parent
        if isinstance(line, PlanLine):
            await line.remove()
            self.validate_plan()

    @on(Button.Pressed, "#add-line")
    async def action_add_line(self) -> None:
        """Append an empty write to edit."""
        line = PlanLine()
        await self.query_one("#lines", VerticalScroll).mount(line)
        line.query_one("#addr", Input).focus()
        self.validate_plan()

    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        """Hand the plan to the app, which applies it between two epochs."""
        slots = self.validate_plan()
        if slots is not None:
            self.dismiss(slots)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Keep the current plan."""
        self.dismiss(None)
