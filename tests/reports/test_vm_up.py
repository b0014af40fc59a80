"""The VM-up lines: the same words in the app's event log and a headless recording."""

from __future__ import annotations

from dataclasses import replace

from iofdtui.capture.headless import start_events
from iofdtui.reports.vm_up import vm_up_lines
from iofdtui.ui.event_lines import started
from tests.ui.fake_lab import MACHINE, MMIO, PIO


def test_the_vm_its_emulation_and_the_demos_registrations_in_id_order() -> None:
    lines = vm_up_lines(MACHINE, {2: "mmio b", 1: "pio a"})
    assert lines == [
        ("VM up: kvm_pvm on 6.18.44-fc-v669, TSC 2,596,132 kHz", "information"),
        (MACHINE.emulation_note, "warning"),
        ("registered #1 pio a (demo)", "information"),
        ("registered #2 mmio b (demo)", "information"),
    ]


def test_hardware_kvm_says_no_emulation_warning() -> None:
    lines = vm_up_lines(replace(MACHINE, kvm_module="kvm_intel", emulated=False), {})
    assert [severity for _text, severity in lines] == ["information"]
    assert "kvm_intel" in lines[0][0]


def test_the_app_and_a_headless_recording_say_the_same() -> None:
    specs = {1: PIO, 2: MMIO}
    app = started(MACHINE, specs)
    headless = start_events(MACHINE, {k: s.describe() for k, s in specs.items()})
    assert [(e.text, e.severity) for e in headless] == app
    assert all(e.at == 0.0 for e in headless)
