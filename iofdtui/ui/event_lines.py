"""What the event log says about each thing the engine did: pure text, no widgets."""

from __future__ import annotations

from iofdtui.engine.model import RegistrationSpec
from iofdtui.engine.snapshot import MachineFacts
from iofdtui.reports.vm_up import vm_up_lines
from iofdtui.ui.messages import (
    CountersReset,
    DeviceWorkChanged,
    DrainChanged,
    GuestPaused,
    GuestResumed,
    Outcome,
    PaceChanged,
    PinningChanged,
    PlanChanged,
    PlanRejected,
    ReaderChanged,
    RegistrationAdded,
    RegistrationRefused,
    RegistrationRemoved,
    VcpusChanged,
    ZoneAdded,
    ZoneRemoved,
)

Line = tuple[str, str]
"""(text, severity) of one event-log line; severity as `notify` takes it."""

READER_MODELS: dict[str, str] = {
    "none": "nobody waits on the eventfds; counts drained at each reading (pci-testdev)",
    "poll": "a thread busy-polls the eventfds (vhost busy-poll, SPDK)",
    "epoll": "a device thread sleeps in epoll_wait (QEMU iothreads, vhost by default)",
}
"""What each reader mode models, as the event log says it."""

INFO = "information"


def started(machine: MachineFacts, registrations: dict[int, RegistrationSpec]) -> list[Line]:
    """The VM came up with the demo's registrations."""
    return vm_up_lines(machine, {reg_id: spec.describe() for reg_id, spec in registrations.items()})


def outcome_lines(outcome: Outcome) -> list[Line]:
    """The event-log lines for what one engine call did."""
    match outcome:
        case RegistrationAdded(reg_id, spec, completion, vcpus):
            answer = f", answered by an irqfd ({completion})" if completion else ""
            if completion and vcpus is not None:
                answer += f", kicked by vCPU {vcpus[0]}, interrupt to vCPU {vcpus[1]}"
            return [(f"registered #{reg_id} {spec.describe()}{answer}", INFO)]
        case RegistrationRefused(spec, message):
            return [(f"rejected {spec.describe()}: {message}", "error")]
        case RegistrationRemoved(final):
            text = f"removed #{final.id} {final.spec.describe()}: {final.signals:,} signals in all"
            return [(text, INFO)]
        case ZoneAdded(zone_id, spec):
            return [(f"coalesced z{zone_id} {spec.describe()}: its writes go to the ring", INFO)]
        case ZoneRemoved(final):
            text = (
                f"removed coalesced z{final.id} {final.spec.describe()}: {final.entries:,} "
                f"ring entries, {final.ring_full:,} ring full in all"
            )
            return [(text, INFO)]
        case GuestPaused(exact):
            how = "at a quiescent point" if exact else "by a kick (a ring may be in flight)"
            return [(f"guest paused {how}", INFO)]
        case GuestResumed():
            return [("guest resumed", INFO)]
        case CountersReset():
            return [("counters reset", INFO)]
        case DrainChanged(mode):
            how = "by a thread every 100 µs" if mode == "thread" else "at every userspace exit"
            return [(f"coalesced ring drained {how}", INFO)]
        case ReaderChanged(mode):
            return [(f"reader {mode}: {READER_MODELS.get(mode, '')}", INFO)]
        case PinningChanged(pinning, refused):
            if refused is not None:
                return [(f"not pinned: {refused}", "warning")]
            if pinning is None:
                return [("pinning off: the scheduler places every thread", INFO)]
            return [(f"pinned: {pinning}", INFO)]
        case PaceChanged(None):
            return [("ring plan flat out again (counters reset)", INFO)]
        case PaceChanged(pace_us):
            text = (
                f"paced: one ring per visit, {pace_us:g} µs apart; wake-up latency and "
                "the cost of each single write (the kick) measured (counters reset)"
            )
            return [(text, INFO)]
        case VcpusChanged():
            return _vcpus_lines(outcome)
        case PlanChanged(plan):
            writes = ", ".join(slot.describe() for slot in plan) or "nothing"
            return [(f"ring plan: {writes}", INFO)]
        case DeviceWorkChanged(reg_id, 0):
            return [(f"#{reg_id}'s device answers each kick at once (no device work)", INFO)]
        case DeviceWorkChanged(reg_id, work_us):
            text = (
                f"#{reg_id}'s device works {work_us:g} µs before each answer: "
                "the reader spins, then writes the irqfd (awake→written)"
            )
            return [(text, INFO)]
        case PlanRejected(message, restore_failed):
            lines = []
            if restore_failed is not None:
                lines.append((f"restoring the ring plan failed: {restore_failed}", "error"))
            lines.append((f"ring plan rejected: {message}; the old plan rings on", "error"))
            return lines
    return []


def _vcpus_lines(event: VcpusChanged) -> list[Line]:
    moved = [f"#{old}→#{new}" for old, new in sorted(event.renumbered.items()) if old != new]
    ids = ", ".join(f"#{i}" for i in sorted(event.registrations)) or "none"
    numbering = f"renumbered {', '.join(moved)}" if moved else f"kept as {ids}"
    lines = [
        (
            f"new VM with {event.vcpus} vCPU{'s' if event.vcpus > 1 else ''} ringing the same "
            f"plan; registrations made again, {numbering}; counters start at zero",
            INFO,
        )
    ]
    if event.pace_dropped:
        lines.append(("paced mode off: it runs on one vCPU (v back to one, then w)", "warning"))
    if event.completions_dropped:
        which = ", ".join(f"#{i}" for i in event.completions_dropped)
        why = event.dropped_why or "the new VM refused them"
        lines.append((f"completions of {which} dropped: {why}", "warning"))
    return lines
