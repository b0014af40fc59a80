"""The help screen: what ioeventfd is and how to read every figure."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Markdown

from iofdtui.ui.bindings import keys_markdown
from iofdtui.ui.screens.dialog import Dialog

_TEXT = """\
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
| p50, p99 | guest-measured ring cost on this eventfd, net of timer overhead (see below) |
| base50, base99 | the same for the userspace-exit path, same bus and width, same run |
| ratio | base50 / p50, like for like: same reader, stream vs stream (kick vs kick paced) |

**What one sample is.** The guest rings a plan slot in *visits*: 16 × weight + 1
back-to-back writes. It times a whole visit with one `rdtsc` pair and records
the **mean cost per ring** of that visit, net of the timer's own cost (the same
instructions without the writes, calibrated in the same run). So every ring is
inside a timed window, and the mean of the samples is the stream's mean cost;
p50 and p99 are over visits, not over single writes. In paced mode (`w`) a
visit is one ring, so a sample is that single write: the **kick** of an idle
device. The baseline comes from a never-registered doorbell of the same bus
and width rung in the same loop.

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

The selected registration's signals/s over the last minute; its ring cost
(p50, p99, mean, samples) under **every reader mode measured since the last
reset** (`r`), each epoch counted under the reader in force during it, the one
in force now marked ▸, beside the userspace-exit path's under that reader; the
**why** figures over the last refresh interval; and the distributions side by
side on one log axis (one column per reader, the exit path last), net of the
timer overhead; each bar is the share of that series' samples.

- *reader wake-ups per 1k signals*: how often the reader returned from
  `epoll_wait` with this eventfd readable, per 1,000 of its signals (0 under
  reader `none`: nobody waits).
- *vCPU preempted per 1k rings*: the vCPU thread(s)' involuntary context
  switches (`nonvoluntary_ctxt_switches` in `/proc/self/task/TID/status`).
- *run-queue wait per ring*: time the vCPU thread(s) sat runnable but not
  running (`/proc/self/task/TID/schedstat`), per ring.

Nothing here is compared with an expected figure: what is measured is shown.
When the ratio is small, these say why.

## The kernel's own counters

In a wide terminal the header's third line puts the vCPU's binary stats
(`KVM_GET_STATS_FD`) beside iofdtui's counts between the last two checkpoints,
with the relation that must hold on this flavour: `mmio_exits` = MMIO userspace
exits everywhere; `io_exits` = PIO signals + PIO exits + iofdtui's pause OUTs on
VMX/SVM (every PIO intercept counts, ioeventfd-served ones too), but 0 under
kvm_pvm, which emulates PIO; `halt_exits` = 0. A broken relation shows in red at
any width. `insn_emulation/ring` is how many guest instructions the kernel
emulated per ring: about 1 means the guest is emulated, not run natively.

## The eventfd reader (`c`)

`c` cycles who reads the eventfds; the header names it (`reader epoll`):

- **none**: nobody waits on the eventfds; their counts are drained with
  non-blocking reads at each reading and checkpoint. The bare mechanism, as
  kvm-unit-tests' vmexit tests with QEMU's pci-testdev measure it.
- **poll**: a thread busy-polls every eventfd, as vhost busy-poll or SPDK do.
  It never sleeps, and holds a CPU.
- **epoll**: a device thread sleeps in `epoll_wait`, as QEMU's iothreads and
  vhost (by default) do.

**Why the numbers move.** With a sleeping reader, the guest's write does more
than set a counter: `eventfd_signal` → `ep_poll_callback` → `try_to_wake_up`
wakes the reader *inside the write*, on the vCPU's time. On a 2-CPU machine
the woken reader may then run on the vCPU's CPU and **preempt the vCPU
thread**, so later rings wait on a run queue. A busy-polling reader is never
woken but competes for a CPU; with no reader the write only bumps a counter.
The detail pane's why figures (reader wake-ups, vCPU preemptions, run-queue
wait) show which of these happened.

**Pinning** (palette: *Pin vCPU and reader to separate CPUs*, or
`iofdtui --pin`) puts the vCPU thread(s) on one CPU and the reader and the UI
on another (`sched_setaffinity`), as VMMs do in production; the header shows
where. It separates "the write pays a wake-up" from "the reader preempts the
vCPU". It needs at least 2 CPUs and says so otherwise.

## Wake-up latency (`w`)

The ring cost is how long the guest's vCPU is held; a device model cares when
its own thread runs. `w` paces the plan (one ring per visit, every 100 µs, so
each wake-up of the eventfd reader belongs to one ring) and the detail pane
shows, for the selected registration, the time from the guest's write to the
reader thread returning from `epoll_wait`: the guest stamps each ring with
its TSC, the host maps its own TSC through `KVM_VCPU_TSC_OFFSET`. It says the
mode it comes from (pace, reader); switch the reader with `c` to see what
sleeping costs. A wake-up that reads more than one signal, or whose signal a
reading took, is not timed but counted ("not"). Without the vCPU
attribute, or with a host TSC that is not one clock, it says why instead.
While paced, each ring's cost is the **kick**: the single write to an idle
device, shown per reader beside the wake-up (and in the table's p50/p99).

## Two vCPUs (`v`)

`v` restarts the VM with two vCPUs ringing the same plan (so they share every
eventfd), or back to one; registrations are made again, counters start at
zero. The doorbells table then shows each vCPU's rings and userspace exits
(an eventfd counter cannot say which vCPU signalled it), and every check
covers both vCPUs. Paced mode runs on one vCPU: `v` turns it off (and says
so), and `w` with two vCPUs asks you to press `v` first. Registrations get new
ids in the new VM; the event log lists the old → new ids.

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

"""
HELP = _TEXT + keys_markdown()
"""The help: ioeventfd, every column, and the keys."""
REPLAY_HELP = _TEXT + keys_markdown(replay=True)
"""The same with the replay's keys (the timeline's in place of the lab's)."""


class HelpScreen(Dialog[None]):
    """A scrollable explanation; any of Escape, q, h, ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("h", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
    ]

    DEFAULT_CSS = """
    HelpScreen > .dialog { width: 100; height: 1fr; padding: 0; }
    """

    def __init__(self, replay: bool = False) -> None:
        """The help, with the replay's keys when `replay`."""
        super().__init__()
        self._text = REPLAY_HELP if replay else HELP

    def compose(self) -> ComposeResult:
        """The help text and the footer."""
        with VerticalScroll(classes="dialog") as scroll:
            scroll.border_title = "Help"
            yield Markdown(self._text)
        yield Footer()

    def on_mount(self) -> None:
        """Focus the text so the arrow keys scroll it."""
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        """Back to the lab."""
        self.dismiss(None)
