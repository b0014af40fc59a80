"""One editable line of the ring plan: bus, address, width, value, weight."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, Select

from iofdtui.engine.model import Bus, SlotSpec, format_addr

_WIDTHS = (("1 B", 1), ("2 B", 2), ("4 B", 4), ("8 B", 8))


def _number(text: str, name: str) -> int:
    try:
        return int(text.strip().replace("_", ""), 0)
    except ValueError:
        raise ValueError(f"{name}: {text.strip()!r} is not a number") from None


class PlanLine(Horizontal):
    """Inputs for one `SlotSpec`; `slot()` reads them back."""

    DEFAULT_CSS = """
    PlanLine { height: 1; margin: 0 0 1 0; }
    PlanLine > * { margin: 0 1 0 0; }
    PlanLine > #bus { width: 10; }
    PlanLine > #addr { width: 1fr; }
    PlanLine > #width { width: 9; }
    PlanLine > #value { width: 14; }
    PlanLine > #weight { width: 8; }
    PlanLine > Button { min-width: 3; width: 3; }
    PlanLine > .-invalid { background: $error 40%; }
    """

    def __init__(self, slot: SlotSpec | None = None) -> None:
        """Start from `slot`, or from an empty PIO line."""
        super().__init__()
        self.initial = slot
        """The slot this line started from, if any."""

    def compose(self) -> ComposeResult:
        """Five fields and a remove button."""
        slot = self.initial
        yield Select(
            [("PIO", Bus.PIO), ("MMIO", Bus.MMIO)],
            value=slot.bus if slot else Bus.PIO,
            allow_blank=False,
            compact=True,
            id="bus",
        )
        yield Input(
            format_addr(slot.bus, slot.addr) if slot else "",
            placeholder="address",
            compact=True,
            id="addr",
        )
        yield Select(
            _WIDTHS, value=slot.width if slot else 1, allow_blank=False, compact=True, id="width"
        )
        yield Input(
            f"{slot.value:#x}" if slot else "0x0", placeholder="value", compact=True, id="value"
        )
        yield Input(
            str(slot.weight) if slot else "32", placeholder="weight", compact=True, id="weight"
        )
        yield Button("✕", id="remove-line", compact=True, tooltip="Remove this write from the plan")

    def slot(self) -> SlotSpec:
        """The line as a validated slot; raises ValueError (or SpecError) saying why."""
        bus = self.query_one("#bus", Select).value
        width = self.query_one("#width", Select).value
        assert isinstance(bus, Bus) and isinstance(width, int)
        spec = SlotSpec(
            bus,
            _number(self.query_one("#addr", Input).value, "address"),
            width,
            _number(self.query_one("#value", Input).value, "value"),
            _number(self.query_one("#weight", Input).value, "weight"),
        )
        spec.validate()
        return spec

    def mark(self, field: str | None) -> None:
        """Outline the field a problem is about."""
        for name in ("addr", "width", "value", "weight"):
            self.query_one(f"#{name}").set_class(name == field, "-invalid")
