"""What the event log says when a lab's VM comes up: the app's log and a headless
recording's first events say it in the same words."""

from __future__ import annotations

from collections.abc import Mapping

from iofdtui.engine.snapshot import MachineFacts

INFO = "information"


def vm_up_lines(machine: MachineFacts, registrations: Mapping[int, str]) -> list[tuple[str, str]]:
    """(text, severity) lines: the VM, the emulation warning where it applies, and
    the demo's registrations (`registrations`: id -> its description)."""
    m = machine
    lines = [(f"VM up: {m.kvm_module or 'kvm'} on {m.kernel}, TSC {m.tsc_khz:,} kHz", INFO)]
    if m.emulated:
        lines.append((m.emulation_note, "warning"))
    lines += [
        (f"registered #{reg_id} {text} (demo)", INFO)
        for reg_id, text in sorted(registrations.items())
    ]
    return lines
