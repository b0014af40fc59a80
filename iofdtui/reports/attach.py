"""`iofdtui attach` as text: the KVM processes (`--list`) and a traced VM's doorbells."""

from __future__ import annotations

from collections import Counter

from rich.console import Group, RenderableType
from rich.text import Text

from iofdtui.engine.attach.processes import KvmProcess
from iofdtui.engine.attach.snapshot import AttachSnapshot, TracedValue
from iofdtui.reports.attach_kernel import kernel_report
from iofdtui.reports.blocks import titled_table
from iofdtui.reports.format import count, rate

MAX_VALUES = 6  # values listed per doorbell; the rest are summed in one "+N more"


def process_table(procs: list[KvmProcess]) -> RenderableType:
    """One row per KVM process: its VM, vCPUs, threads and eventfds."""
    if not procs:
        return Text("no process this user can see holds a KVM VM")
    table = titled_table(
        "KVM processes",
        (
            "pid",
            "command",
            "VMs",
            "vCPUs",
            "in KVM_RUN",
            "threads",
            "eventfds",
            "unread",
            "read by it",
            "not irqfd",
            "unknown",
        ),
        left=("command", "in KVM_RUN"),
    )
    for p in procs:
        unread = sum(e.count or 0 for e in p.eventfds)
        kinds = Counter(e.kind for e in p.eventfds)
        table.add_row(
            str(p.pid),
            p.comm,
            str(len(p.vm_fds)),
            str(len(p.vcpu_fds)),
            " ".join(str(t) for t in p.vcpu_threads) or "-",
            str(len(p.threads)),
            count(p.eventfd_total),
            count(unread),
            count(kinds["read by the process"]),
            count(kinds["not an irqfd"]),
            count(kinds["unknown"]),
        )
    note = Text(
        "in KVM_RUN: threads inside ioctl(KVM_RUN) when read (the vCPU threads); "
        "unread: signals waiting in its eventfds' counters (eventfd-count); "
        "/proc cannot tell an ioeventfd from an irqfd: not irqfd = eventfds holding unread "
        "signals (KVM reads an irqfd's at once); read by it = none unread, in one of its "
        "epoll sets; unknown = the rest. "
        "`iofdtui attach PID` traces one"
    )
    return Group(table, note)


def _values(values: tuple[TracedValue, ...]) -> str:
    parts = []
    for v in values[:MAX_VALUES]:
        what = "?" if v.value is None else hex(v.value)
        parts.append(f"{what}/{v.width}: {count(v.in_kernel)} in kernel, {count(v.exits)} exits")
    if len(values) > MAX_VALUES:
        parts.append(f"+{len(values) - MAX_VALUES} more")
    return "; ".join(parts)


def snapshot_report(snap: AttachSnapshot) -> RenderableType:
    """A traced VM's doorbells: writes, served in the kernel, userspace exits, by value."""
    head = Text(
        f"pid {snap.pid} ({snap.comm}) traced for {snap.elapsed_s:.1f} s through tracefs "
        f"instance {snap.instance}; vCPU threads seen: "
        f"{' '.join(str(t) for t in snap.threads) or 'none'}"
    )
    table = titled_table(
        "Doorbells (kvm:kvm_pio, kvm:kvm_mmio, kvm:kvm_userspace_exit)",
        ("bus", "addr", "writes", "in kernel", "exits", "undecided", "by value (value/width)"),
        left=("bus", "addr", "by value (value/width)"),
    )
    for d in snap.doorbells:
        table.add_row(
            str(d.bus),
            hex(d.addr),
            count(d.writes),
            count(d.in_kernel),
            count(d.exits),
            count(d.undecided),
            _values(d.by_value),
        )
    c = snap.cost
    cost = Text(
        f"tracing: {count(c.events)} events ({rate(c.events_per_s)}/s), "
        f"{count(c.lost)} lost, {c.cpu_s:.2f} s CPU to read them, "
        f"buffer {count(c.buffer_kb)} KiB per CPU; exits after a read: "
        f"{count(snap.read_exits)}; exits with no traced access: {count(snap.unmatched_exits)}",
        style="bold red" if c.lost else "",
    )
    rule = Text(
        "in kernel = writes no userspace exit followed on the same vCPU thread "
        "(an ioeventfd took them); undecided = a thread's last write, nothing after it yet"
    )
    return Group(head, table, cost, rule, kernel_report(snap.interrupts, snap.exit_latency))
