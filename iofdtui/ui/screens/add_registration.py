"""The add form: an ioeventfd registration (bus, address, width, trigger, and
its completion) or a coalesced zone (bus, address, size); validated as you type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Footer, Input, Label, Select, Static

from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import Bus, RegistrationSpec, SpecError, collision
from iofdtui.engine.snapshot import Snapshot
from iofdtui.engine.zone_stats import ZoneSpec
from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.messages import Outcome, RegistrationAdded, RegistrationRefused, ZoneAdded
from iofdtui.ui.screens.dialog import Dialog

WIDTHS: tuple[tuple[str, int], ...] = (
    ("1 byte", 1),
    ("2 bytes", 2),
    ("4 bytes", 4),
    ("8 bytes", 8),
    ("any length (0)", 0),
)
"""Width choices; 0 is `KVM_CAP_IOEVENTFD_ANY_LENGTH`'s zero-length match."""


COMPLETIONS: tuple[tuple[str, str | None], ...] = (
    ("none: the reader only reads", None),
    ("MSI: a vector of its own (virtio-pci, vhost)", "msi"),
    ("IOAPIC pin: level, resampled at EOI (VFIO INTx)", "pin"),
)
"""What the reader does with each signal it reads: nothing more, or write an irqfd."""

TWO_VCPUS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("vCPU 0 kicks, its interrupt to vCPU 0", (0, 0)),
    ("vCPU 0 kicks, its interrupt to vCPU 1 (crosses CPUs)", (0, 1)),
    ("vCPU 1 kicks, its interrupt to vCPU 1", (1, 1)),
    ("vCPU 1 kicks, its interrupt to vCPU 0 (crosses CPUs)", (1, 0)),
)
"""Two vCPUs: (kicker, target) of a completion.  One vCPU kicks it (its slots leave
the other's plan: one kick in flight needs one kicker); the MSI (or the pin's
redirection entry) names the target's APIC id, so the loop may cross CPUs."""

KINDS: tuple[tuple[str, str], ...] = (
    ("ioeventfd registration (a signal)", "ioeventfd"),
    ("coalesced zone (a ring entry)", "zone"),
)
"""What the form adds: `KVM_IOEVENTFD`, or `KVM_REGISTER_COALESCED_MMIO` over a range."""

_NO_REGISTRATIONS: Mapping[int, RegistrationSpec] = MappingProxyType({})


def completions_note(lab: object) -> str | None:
    """Why `lab` cannot give a registration a completion (None: it can)."""
    if lab is None:
        return "the lab has not started yet"
    try:
        return lab.completions_note  # type: ignore[attr-defined, no-any-return]
    except EngineError as err:  # closed while `v` swaps the VM: the form says so
        return err.strerror or str(err)


def parse_int(text: str) -> int:
    """Parse `0x3f8`, `1016` or `0b11`; raise ValueError on anything else."""
    return int(text.strip().replace("_", ""), 0)


class AddRegistrationScreen(Dialog[int | None]):
    """A modal form that asks the app to register an ioeventfd.

    The app runs the registration in a worker; a rejection (such as EEXIST)
    comes back through `show_rejection` and the form stays open with the
    user's input intact. It is dismissed with the new id on success.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", tooltip="Close the form; nothing is registered."),
        Binding("ctrl+r", "submit", "Register", tooltip="Register this ioeventfd."),
    ]

    # The choices are one line each (compact selects), the typed fields keep their
    # border (it turns red on a wrong value): the whole form fits 80x24.
    DEFAULT_CSS = """
    AddRegistrationScreen > .dialog { width: 76; max-height: 100%; overflow-y: auto; }
    AddRegistrationScreen .row { height: auto; }
    AddRegistrationScreen .row > Label { width: 10; padding: 1 0 0 0; }
    AddRegistrationScreen .row.-choice { margin: 0 0 1 0; }
    AddRegistrationScreen .row.-choice > Label { padding: 0; }
    AddRegistrationScreen .row > Input, AddRegistrationScreen .row > Select { width: 1fr; }
    AddRegistrationScreen Select.-invalid { background-tint: $error 30%; }
    AddRegistrationScreen #problem { min-height: 2; }
    AddRegistrationScreen #size-row { display: none; }
    AddRegistrationScreen.-zone #size-row { display: block; }
    AddRegistrationScreen.-zone #width-row, AddRegistrationScreen.-zone #trigger-row,
    AddRegistrationScreen.-zone #completion-row, AddRegistrationScreen.-zone #vcpus-row {
        display: none;
    }
    AddRegistrationScreen.-no-completion #completion-row { display: none; }
    AddRegistrationScreen #vcpus-row { display: none; }
    AddRegistrationScreen.-two-vcpus.-completing #vcpus-row { display: block; }
    AddRegistrationScreen.-no-completion #vcpus-row { display: none; }
    """

    @dataclass
    class Submitted(Message):
        """The user asked to register `spec` (already validated), answered by an
        irqfd on `completion` ("msi" or "pin"; None: no completion)."""

        spec: RegistrationSpec | ZoneSpec
        completion: str | None = None
        vcpus: tuple[int, int] = (0, 0)
        """Two vCPUs: the vCPU that kicks it and the one its interrupt goes to."""

    @classmethod
    def for_lab(cls, lab: LabPort | None, snapshot: Snapshot | None) -> AddRegistrationScreen:
        """The form for `lab` as `snapshot` shows it.

        The live registrations come from the snapshot, not the lab:
        lab.registrations() would take the lab's lock on the UI thread (a newer
        one is still caught by the kernel's EEXIST).
        """
        existing = {r.id: r.spec for r in snapshot.registrations} if snapshot else {}
        if lab is None:
            return cls(True, existing, completions_note(lab))
        return cls(lab.any_length, existing, completions_note(lab), lab.vcpus)

    def __init__(
        self,
        any_length: bool = True,
        existing: Mapping[int, RegistrationSpec] = _NO_REGISTRATIONS,
        completions_note: str | None = "no lab to answer with interrupts",
        vcpus: int = 1,
    ) -> None:
        """Build the form.

        Args:
            any_length: whether the kernel has KVM_CAP_IOEVENTFD_ANY_LENGTH.
            existing: the live registrations by id, so a collision (the
                kernel's EEXIST) is named before submit.
            completions_note: why the lab cannot give a completion (None: it can).
            vcpus: the lab's vCPUs; with two, a completion's kicker and target are asked.
        """
        super().__init__()
        self.any_length = any_length
        """Whether width 0 ("any length") is offered as valid."""
        self.existing = existing
        """The registrations a new one must not collide with."""
        self.completions_note = completions_note
        """Why the completion choice is off, or None when it is offered."""
        self.vcpus = vcpus
        """The lab's vCPUs (two: the vCPUs row is offered with a completion)."""
        self.pending = False
        """True while the app is asking the kernel; the form waits."""

    def compose(self) -> ComposeResult:
        """Four fields, a problem line, and the buttons."""
        with Vertical(id="form", classes="dialog") as form:
            form.border_title = "Add an ioeventfd registration or a coalesced zone"
            with Horizontal(classes="row -choice"):
                yield Label("kind")
                yield Select(KINDS, value="ioeventfd", allow_blank=False, id="kind", compact=True)
            with Horizontal(classes="row -choice"):
                yield Label("bus")
                yield Select(
                    [("PIO (port I/O, OUT)", Bus.PIO), ("MMIO (memory write)", Bus.MMIO)],
                    value=Bus.PIO,
                    allow_blank=False,
                    id="bus",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Label("address")
                yield Input(placeholder="0x3f8 or 0xfe000000", id="addr")
            with Horizontal(classes="row -choice", id="width-row"):
                yield Label("width")
                yield Select(WIDTHS, value=1, allow_blank=False, id="width", compact=True)
            with Horizontal(classes="row", id="trigger-row"):
                yield Label("trigger")
                yield Input(placeholder="empty: any value (wildcard)", id="trigger")
            with Horizontal(classes="row -choice", id="completion-row"):
                yield Label("complete")
                # Hidden (the -no-completion class) when the lab cannot give one.
                yield Select(
                    COMPLETIONS, value=None, allow_blank=False, id="completion", compact=True
                )
            with Horizontal(classes="row -choice", id="vcpus-row"):
                yield Label("vCPUs")
                # Shown with two vCPUs once a completion is chosen.
                yield Select(TWO_VCPUS, value=(0, 0), allow_blank=False, id="vcpus", compact=True)
            with Horizontal(classes="row", id="size-row"):
                yield Label("size")
                yield Input(placeholder="bytes the zone covers: 0x8 or 4096", id="size")
            yield Static("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("Register", variant="primary", id="register")
        yield Footer()

    def on_mount(self) -> None:
        """Start on the address, the field that is always needed."""
        # A lab that cannot answer with interrupts keeps the form as short as it was.
        self.set_class(self.completions_note is not None, "-no-completion")
        self.set_class(self.vcpus > 1, "-two-vcpus")
        self.query_one("#addr", Input).focus()
        self._kind_moved = False
        self.watch(self.query_one("#kind", Select), "expanded", self._kind_closed, init=False)
        self.validate_form()

    def zone_or_problem(self) -> tuple[ZoneSpec | None, str, str | None]:
        """The zone the fields describe, or a one-line problem and its field."""
        addr_text = self.query_one("#addr", Input).value
        size_text = self.query_one("#size", Input).value
        bus = self.query_one("#bus", Select).value
        try:
            addr = parse_int(addr_text)
        except ValueError:
            return None, "address: type where the zone starts (0x600 or 0xfe000000)", "addr"
        try:
            size = parse_int(size_text)
        except ValueError:
            return None, "size: type how many bytes the zone covers (0x8 or 4096)", "size"
        assert isinstance(bus, Bus)
        spec = ZoneSpec(bus, addr, size)
        try:
            spec.validate()
        except SpecError as err:
            return None, str(err), err.field
        return spec, f"ready: {spec.describe()}", None

    def spec_or_problem(self) -> tuple[RegistrationSpec | ZoneSpec | None, str, str | None]:
        """The spec the fields describe, or a one-line problem and its field."""
        zone = self.query_one("#kind", Select).value == "zone"
        self.set_class(zone, "-zone")
        self.set_class(self.query_one("#completion", Select).value is not None, "-completing")
        if zone:
            return self.zone_or_problem()
        addr_text = self.query_one("#addr", Input).value
        trig_text = self.query_one("#trigger", Input).value
        bus = self.query_one("#bus", Select).value
        width = self.query_one("#width", Select).value
        if not addr_text.strip():
            return None, "address: type a port (0x3f8) or an MMIO address (0xfe000000)", "addr"
        try:
            addr = parse_int(addr_text)
        except ValueError:
            return None, f"address: {addr_text.strip()!r} is not a number (try 0x3f8)", "addr"
        trigger = None
        if trig_text.strip():
            try:
                trigger = parse_int(trig_text)
            except ValueError:
                return None, f"trigger: {trig_text.strip()!r} is not a number (try 0x1)", "trigger"
        assert isinstance(bus, Bus) and isinstance(width, int)
        spec = RegistrationSpec(bus, addr, width, trigger)
        try:
            spec.validate(any_length_supported=self.any_length)
        except SpecError as err:
            return None, str(err), err.field
        # The kernel's EEXIST, said before asking it (the engine still checks:
        # `existing` is as of when the form opened).
        clash = collision(spec, self.existing)
        if clash is not None:
            return (
                None,
                f"collides with registration #{clash} ({self.existing[clash].describe()}): "
                "the kernel says EEXIST; remove it first, or use another width or trigger",
                "addr",
            )
        return spec, f"ready: {spec.describe()}", None

    def validate_form(self) -> RegistrationSpec | ZoneSpec | None:
        """Check the fields, mark the wrong one, and say why on the problem line."""
        spec, text, field = self.spec_or_problem()
        for name in ("addr", "width", "trigger", "size"):
            self.query_one(f"#{name}").set_class(name == field, "-invalid")
        problem = self.query_one("#problem", Static)
        problem.update(text)
        problem.set_class(spec is not None, "-ok")
        self.query_one("#register", Button).disabled = spec is None or self.pending
        return spec

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.validate_form()

    @on(Select.Changed, "#kind")
    def _kind_changed(self) -> None:
        self._kind_moved = True

    def _kind_closed(self, expanded: bool) -> None:
        # The fields change with the kind: back to the address, the one both need
        # (once the select's list has closed: the select takes focus back then).
        if not expanded and self._kind_moved:
            self._kind_moved = False
            self.query_one("#addr", Input).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#register")
    def action_submit(self) -> None:
        """Ask the app to register what the form describes."""
        spec = self.validate_form()
        if spec is None or self.pending:
            return
        self.pending = True
        self.query_one("#register", Button).disabled = True
        self.query_one("#problem", Static).update(f"registering {spec.describe()}…")
        completion = self.query_one("#completion", Select).value
        if isinstance(spec, ZoneSpec) or not isinstance(completion, str):
            completion = None  # a zone has no eventfd to answer
        vcpus = self.query_one("#vcpus", Select).value
        if self.vcpus < 2 or not isinstance(vcpus, tuple):
            vcpus = (0, 0)
        self.post_message(self.Submitted(spec, completion, vcpus))

    def answer(self, outcome: Outcome) -> bool:
        """Close with the new id, or show why the kernel said no; False: not the form's answer."""
        match outcome:
            case RegistrationAdded(new_id) | ZoneAdded(new_id):
                self.dismiss(new_id)
            case RegistrationRefused(_, message, field):
                self.show_rejection(message, field)
            case _:
                return False
        return True

    def show_rejection(self, message: str, field: str | None) -> None:
        """The kernel said no: show why, mark the field, keep everything typed."""
        self.pending = False
        problem = self.query_one("#problem", Static)
        problem.update(f"rejected: {message}")
        problem.set_class(False, "-ok")
        for name in ("addr", "width", "trigger", "completion", "vcpus", "size"):
            self.query_one(f"#{name}").set_class(name == field, "-invalid")
        self.query_one("#register", Button).disabled = False

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without registering anything."""
        self.dismiss(None)
