"""The add-registration form says what the kernel would refuse before anything is submitted."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from textual.app import App
from textual.widgets import Button, Input, Select, Static

from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.ui.screens.add_registration import AddRegistrationScreen


class FormHost(App[None]):
    """Just the form, over an empty screen: no lab, no VM."""

    def __init__(self, form: AddRegistrationScreen) -> None:
        super().__init__()
        self.form = form
        self.submitted: list[RegistrationSpec] = []

    def on_mount(self) -> None:
        self.push_screen(self.form)

    def on_add_registration_screen_submitted(self, event: AddRegistrationScreen.Submitted) -> None:
        self.submitted.append(event.spec)


async def fill(
    bus: Bus,
    addr: str,
    width: int = 1,
    trigger: str = "",
    existing: Mapping[int, RegistrationSpec] | None = None,
    any_length: bool = True,
) -> tuple[str, str | None, bool, list[RegistrationSpec]]:
    """Type into the form, press ctrl+r: (problem, invalid field, Register enabled, submitted)."""
    form = (
        AddRegistrationScreen(any_length=any_length)
        if existing is None
        else AddRegistrationScreen(any_length=any_length, existing=existing)
    )
    app = FormHost(form)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        form.query_one("#bus", Select).value = bus
        form.query_one("#width", Select).value = width
        form.query_one("#addr", Input).value = addr
        form.query_one("#trigger", Input).value = trigger
        await pilot.pause()
        problem = str(form.query_one("#problem", Static).render())
        invalid = next(
            (
                n
                for n in ("addr", "width", "trigger")
                if form.query_one(f"#{n}").has_class("-invalid")
            ),
            None,
        )
        enabled = not form.query_one("#register", Button).disabled
        await pilot.press("ctrl+r")
        await pilot.pause()
        return problem, invalid, enabled, list(app.submitted)


async def test_a_valid_registration_is_ready_and_submitted() -> None:
    problem, invalid, enabled, submitted = await fill(Bus.PIO, "0x3f8")
    assert problem.startswith("ready: pio 0x03f8/1")
    assert invalid is None and enabled
    assert submitted == [RegistrationSpec(Bus.PIO, 0x3F8, 1)]


@pytest.mark.parametrize(
    ("bus", "addr", "width", "trigger", "field", "says"),
    [
        (Bus.PIO, "", 1, "", "addr", "type a port"),
        (Bus.PIO, "0x10000", 1, "", "addr", "outside the PIO space"),
        (Bus.MMIO, "0x1" + "0" * 16, 1, "", "addr", "outside the MMIO space"),
        (Bus.PIO, "-1", 1, "", "addr", "outside the PIO space"),
        (Bus.PIO, "0xzz", 1, "", "addr", "is not a number"),
        (Bus.PIO, "0x3f8", 1, "0xq", "trigger", "is not a number"),
        (Bus.MMIO, "0x1000", 4, "", "addr", "guest RAM"),
        (Bus.PIO, "0x3f8", 8, "", "width", "PIO width 8 can never fire"),
        (Bus.PIO, "0x3f8", 0, "0x1", "trigger", "a trigger value needs a width"),
        (Bus.PIO, "0x3f8", 1, "0x100", "trigger", "does not fit in 1 byte"),
    ],
)
async def test_what_held_up_still_holds(
    bus: Bus, addr: str, width: int, trigger: str, field: str, says: str
) -> None:
    problem, invalid, enabled, submitted = await fill(bus, addr, width, trigger)
    assert says in problem
    assert invalid == field
    assert not enabled and submitted == []


async def test_reserved_ports_are_refused() -> None:
    from iofdtui.engine.model import RESERVED_PORTS

    for port in sorted(RESERVED_PORTS):
        problem, invalid, enabled, submitted = await fill(Bus.PIO, hex(port))
        assert "pause handshake" in problem and invalid == "addr"
        assert not enabled and submitted == []


async def test_an_mmio_range_that_wraps_is_refused_as_the_kernel_does() -> None:
    # The kernel refuses `addr + len < addr` (u64): 0xffff_ffff_ffff_ffff + 1 wraps to 0.
    problem, invalid, enabled, submitted = await fill(Bus.MMIO, "0xffffffffffffffff", 1)
    assert not problem.startswith("ready"), problem
    assert invalid == "addr" and not enabled and submitted == []


async def test_the_last_mmio_byte_with_any_length_is_what_the_kernel_accepts() -> None:
    # len 0: addr + 0 < addr is false, so the kernel takes it; so must the form.
    problem, _invalid, enabled, _ = await fill(Bus.MMIO, "0xffffffffffffffff", 0)
    assert problem.startswith("ready"), problem
    assert enabled


async def test_a_duplicate_is_named_before_submit() -> None:
    existing = {
        1: RegistrationSpec(Bus.PIO, 0x3F8, 1),
        2: RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1),
    }
    problem, invalid, enabled, submitted = await fill(
        Bus.MMIO, "0xfe000000", 4, "0x1", existing=existing
    )
    assert "collides with registration #2 (mmio 0xfe000000/4 =0x1)" in problem
    assert invalid is not None and not enabled and submitted == []
    # Any length matches every width at that address: the kernel says EEXIST too.
    problem, _, enabled, submitted = await fill(Bus.PIO, "0x3f8", 0, existing=existing)
    assert "collides with registration #1 (pio 0x03f8/1 any value)" in problem
    assert not enabled and submitted == []


async def test_what_does_not_collide_is_ready() -> None:
    existing = {2: RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x1)}
    # Another trigger value at the same doorbell and width: no EEXIST.
    problem, _, enabled, submitted = await fill(Bus.MMIO, "0xfe000000", 4, "0x2", existing=existing)
    assert problem.startswith("ready"), problem
    assert enabled and submitted == [RegistrationSpec(Bus.MMIO, 0xFE00_0000, 4, 0x2)]


def test_the_forms_completion_note_of_a_closed_lab_is_its_one_line() -> None:
    from iofdtui.engine.errors import LabClosed
    from iofdtui.ui.screens.add_registration import completions_note

    class Closed:
        @property
        def completions_note(self) -> str | None:
            raise LabClosed()

    assert completions_note(Closed()) == str(LabClosed().strerror)
    assert completions_note(None) == "the lab has not started yet"
