"""The help screen: what ioeventfd is and how to read every figure."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

HELP = """\
# iofdtui: ioeventfd doorbells, live

A test VM on `/dev/kvm` runs a tiny guest that **rings doorbells**: it writes
to I/O ports (`out`, PIO) and to unmapped guest-physical addresses (`mov`, MMIO),
in the order and mix of its **ring plan** (`e`).

Without help, every such write leaves the guest: `KVM_RUN` returns to
userspace with `KVM_EXIT_IO` / `KVM_EXIT_MMIO`, the VMM handles it, and
re-enters. That round trip is the **userspace-exit path**.

An **ioeventfd** (`KVM_IOEVENTFD`) asks the kernel to catch writes to one
address itself: KVM signals an eventfd and resumes the guest at once, without
leaving the kernel. A thread of iofdtui reads the eventfd's counter. That is the
**ioeventfd path**; it is what virtio queue notifications use.

## Trigger values (DATAMATCH)

A registration has a bus, an address, a length (`len`: 1, 2, 4, 8 bytes, or 0
= any length where the kernel has `KVM_CAP_IOEVENTFD_ANY_LENGTH`) and an
optional **trigger value**. With a trigger (`KVM_IOEVENTFD_FLAG_DATAMATCH`)
only writes of exactly that value signal; any other value **misses** and exits
to userspace as if nothing were registered. Without one (*any*) every write of
that length signals. Two registrations on one address collide (`EEXIST`) unless
both have different trigger values of the same length.

## Registrations table

| column | meaning |
|---|---|
| # | iofdtui's id of the registration |
| bus, address | `pio` port or `mmio` guest-physical address, hex |
| len | the registration's length in bytes; *any* = zero-length |
| trigger | the DATAMATCH value, or *any* (wildcard) |
| efd | the eventfd's file-descriptor number in this process |
| signals | the eventfd counter's sum since the last reset (counted, by the kernel) |
| signals/s | signals over the last refresh interval (the title says how long) |
| p50, p99 | guest-measured ring cost on this eventfd, net of timer overhead |
| base p50, p99 | the same for the userspace-exit path, same bus and width, same run |
| ratio | base p50 / p50: how many times cheaper the ioeventfd path is |

Latency is timed by the guest: `rdtsc` around the single write instruction,
minus the timer's own cost calibrated in the same run. The baseline comes from a
never-registered doorbell of the same bus and width rung in the same loop.

## Doorbells table

| column | meaning |
|---|---|
| doorbell | bus and address the guest writes to |
| guest writes | the plan's writes there: width and value |
| rings | writes the guest made (counted by the guest) |
| signals | rings an eventfd took |
| exits | rings that reached userspace (counted in the run loop) |
| exits by value | userspace exits per written value: the trigger misses |
| live | rings ≤ signals + exits ≤ rings announced, at every reading (`✓ +n`: n in flight) |
| exact | rings = signals + exits, **exactly**, at the last checkpoint |
| vCPU:rings | with two vCPUs: each one's rings (and exits, when wide) |

While the guest runs, a burst can be counted by the host before the guest
counts it, so the live check is a bracket, and it turns red the moment a count
is lost or invented. Once a second iofdtui parks the guest at a quiescent point
for a moment (a **checkpoint**) and checks the sum; that is the exact column,
and it must always be ✓. Pausing (`p`) takes one.

## Detail pane

The selected registration's signals/s over the last minute, and its latency
distribution (green) beside the userspace-exit path's (yellow) on one log axis,
net of the timer overhead; each bar is the share of that path's timed rings.

## The kernel's own counters

In a wide terminal the header's third line puts the vCPU's binary stats
(`KVM_GET_STATS_FD`) beside iofdtui's counts between the last two checkpoints,
with the relation that must hold on this flavour: `mmio_exits` = MMIO userspace
exits everywhere; `io_exits` = PIO signals + PIO exits + iofdtui's pause OUTs on
VMX/SVM (every PIO intercept counts, ioeventfd-served ones too), but 0 under
kvm_pvm, which emulates PIO; `halt_exits` = 0. A broken relation shows in red at
any width. `insn_emulation/ring` is how many guest instructions the kernel
emulated per ring: about 1 means the guest is emulated, not run natively.

## The eventfd consumer

`c` switches the thread that reads the eventfds between blocking in
`epoll_wait` (what a sleeping device thread does) and busy-polling. A ring that
finds the consumer asleep pays its wake-up inside the guest's write; compare the
p50 of a registration in each mode (reset with `r` between them).

## Wake-up latency (`w`)

The ring cost is how long the guest's vCPU is held; a device model cares when
its own thread runs. `w` paces the plan (one ring per visit, every 100 µs, so
each wake-up of the eventfd reader belongs to one ring) and the detail pane
shows, for the selected registration, the time from the guest's write to the
consumer thread returning from `epoll_wait`: the guest stamps each ring with
its TSC, the host maps its own TSC through `KVM_VCPU_TSC_OFFSET`. It says the
mode it comes from (pace, consumer); switch the consumer with `c` to see what
sleeping costs. A wake-up that reads more than one signal, or whose signal a
reading took, is not timed but counted ("not"). Without the vCPU
attribute, or with a host TSC that is not one clock, it says why instead.
While paced, ring cost is not sampled.

## Two vCPUs (`v`)

`v` restarts the VM with two vCPUs ringing the same plan (so they share every
eventfd), or back to one; registrations are made again, counters start at
zero. The doorbells table then shows each vCPU's rings and userspace exits
(an eventfd counter cannot say which vCPU signalled it), and every check
covers both vCPUs. Paced mode runs on one vCPU.

## Live and exact checks

`live` (doorbells table) holds at every reading: rings the guest has counted ≤
signals + exits ≤ rings it has announced, so `✓ +17` means 17 rings counted by
the host that the guest has not counted yet. A lost or invented count turns it
red at once. `exact` is rings = signals + exits at the last checkpoint.

## Scale (`x`)

What does a registration cost the guest? `x` opens a screen that measures it
on a VM of its own, pausing the live guest meanwhile so the two do not compete
for the CPUs (it resumes when you close the screen, unless you had paused it).
Plot (a): the p50 ring cost of one doorbell against the number of *decoy*
registrations elsewhere on the bus (1 to 100,000, as far as `RLIMIT_NOFILE`
allows: one eventfd each). Plot (b): against k trigger values at the doorbell
itself, for the value registered first, the one registered last, and a miss.
KVM binary-searches the bus's sorted array for the address, then walks the
entries there: decoys barely move the cost, while each entry registered before
the hit adds a step (~20 ns here). `r` measures again; Escape closes (a running
sweep stops after its current point).

## KVM flavours

The header says which module serves `/dev/kvm`. Under **kvm_pvm** guest
instructions are emulated: `rdtsc`, `out` and `mov` all cost emulator time, so
every latency here is an **emulator figure**, not a hardware VM-exit cost. The
ratio still says which path is cheaper on this machine.

## Keys

`a` add · `d`/Delete remove · `e` ring plan · `p` pause/resume · `r` reset ·
`s` refresh interval · `c` eventfd consumer · `w` pace (wake-up latency) ·
`v` one/two vCPUs · `f` filter · `o` sort (or click a
column header) · `x` scale plot ·
`S`/Ctrl+S screenshot ·
`h`/`?` help · `q` quit · Ctrl+P command palette
"""


class HelpScreen(ModalScreen[None]):
    """A scrollable explanation; any of Escape, q, h, ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("h", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 100;
        max-width: 100%;
        height: 1fr;
        border: thick $accent;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        """The help text and the footer."""
        with VerticalScroll() as scroll:
            scroll.border_title = "Help"
            yield Markdown(HELP)
        yield Footer()

    def on_mount(self) -> None:
        """Focus the text so the arrow keys scroll it."""
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        """Back to the lab."""
        self.dismiss(None)
