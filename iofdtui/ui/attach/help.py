"""The attached app's help screen and its filter prompt (the lab's, with their own words)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Footer, Input, Markdown, Static

from iofdtui.ui.bindings import attach_keys_markdown
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.help import HelpScreen

ATTACH_HELP = """# iofdtui attach

The doorbells of a KVM process iofdtui did not make, from the kernel's own
tracepoints, read-only: nothing here acts on that VM.

## Doorbells

Every PIO and MMIO write the VM's vCPU threads made (`kvm_pio`, `kvm_mmio`,
`kvm_fast_mmio`), per bus and address. Per vCPU thread in time order, a write
followed by a `kvm_userspace_exit` of its bus's kind before that thread's next
access **exited** to userspace (the VMM served it); a write followed by
anything else first was served **in the kernel** (an ioeventfd or an in-kernel
device). A thread's last write is **undecided** until its next event. So
writes = in kernel + exits + undecided, always. *in kernel %* leaves the
undecided out. The tables below give the selected doorbell by value and width,
and by vCPU thread.

## Interrupts injected

Per vector: MSIs sent (`kvm_msi_set_irq`), vectors a local APIC accepted
(`kvm_apic_accept_irq`: MSIs, IOAPIC pins and IPIs alike) and the guest's
EOIs (`kvm_eoi`: its handler ran). Per GSI: `kvm_set_irq` raising (level 1)
and lowering (0) the line. The kernel records an event only when it fires in
one of the process's threads: an injection done by a kworker (an irqfd on a
pin route raises its GSI there) or a timer firing over another task is not
counted.

## Exit latency

From each `kvm_exit` to the same thread's next `kvm_entry`, per exit reason
(names from the kernel's own format file): exits, mean, min, max. These fire
on VMX and SVM only; on kvm_pvm, which emulates the guest, they never fire and
the table says "n/a".

## The header

Events traced per second, the share of a CPU this app spends reading them,
and events the kernel lost (its per-CPU buffer overran: counts are then
short). *Exits with no traced access*: an exit whose write came before tracing
began, or was lost.

## Keys

"""


class AttachHelpScreen(HelpScreen):
    """The lab's help screen, with the attached app's text."""

    def compose(self) -> ComposeResult:
        """The help text and the footer."""
        with VerticalScroll(classes="dialog") as scroll:
            scroll.border_title = "Help"
            replay = getattr(self.app, "REPLAY", False)
            yield Markdown(ATTACH_HELP + attach_keys_markdown(replay))
        yield Footer()


class DoorbellFilterPrompt(FilterPrompt):
    """The lab's filter prompt, for the attached VM's doorbells."""

    def compose(self) -> ComposeResult:
        """An input and a hint."""
        with Vertical(classes="dialog") as box:
            box.border_title = "Filter doorbells by bus or address"
            yield Input(value=self.current, placeholder="e.g. c084 or 0xc0000800 or mmio")
            yield Static("Enter applies; an empty filter shows every doorbell.")
