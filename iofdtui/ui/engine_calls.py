"""What each engine call the UI makes does on the lab, and what it reports.

Plain blocking functions of a `LabPort`: `LabSession` runs each in its
worker under the engine lock; none touches a widget. Each returns an outcome
(`ui/messages.py`), or None when it found nothing to do; an engine refusal
it does not turn into an outcome is raised, and the session reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import READERS
from iofdtui.engine.zone_stats import DRAIN_MODES, ZoneSpec
from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.messages import (
    CountersReset,
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

ENGINE_ERRORS = (OSError, ValueError)
"""What an engine call raises when the engine or the kernel says no (EngineError is an
OSError, SpecError a ValueError); anything else is a bug, shown by the app as one."""

PACE_US = 100.0
"""The period `w` paces the plan at: one ring per visit, a wake-up per ring."""

EngineCall = Callable[[LabPort], Outcome | None]
"""One engine call: runs on the lab (blocking), returns what it did (None: nothing)."""


def one_line(err: BaseException) -> str:
    """An exception as one line: the engine's own message, or the type and its text."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(err, ENGINE_ERRORS) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def failure_title(err: BaseException, fallback: str) -> str:
    """The toast title for `err`: its own `title` when it has one, else `fallback`."""
    title = getattr(err, "title", None)
    # EngineError's base title names no cause; what was being done says more.
    if isinstance(title, str) and title and title != EngineError.title:
        return title
    return fallback


def apply_plan(lab: LabPort, plan: Sequence[SlotSpec]) -> None:
    """Every vCPU rings the same plan (so two vCPUs share each eventfd), except a
    completion's slots, which its kicker alone rings (`Lab.share_plan`)."""
    if lab.vcpus == 1:
        lab.set_plan(plan)
    else:
        lab.share_plan(plan)


def current_plan(lab: LabPort) -> list[SlotSpec]:
    """The plan the app rings: the one every vCPU shares (vCPU 0's when none is)."""
    shared = lab.shared_plan
    return shared if shared is not None else lab.plan()


def reshare(lab: LabPort) -> None:
    """Split the shared plan again: registrations came or went, so which one
    serves a slot (and whether its kicker alone rings it) may have changed."""
    shared = lab.shared_plan
    if lab.vcpus > 1 and shared is not None:
        apply_plan(lab, shared)


def start_demo(lab: LabPort) -> dict[int, RegistrationSpec]:
    """The demo's plan and registrations on a new lab, the guest started."""
    apply_plan(lab, demo_plan())
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.start()
    return lab.registrations()


def add_registration(
    lab: LabPort,
    spec: RegistrationSpec,
    completion: str | None = None,
    vcpus: tuple[int, int] = (0, 0),
) -> Outcome:
    """Register an ioeventfd, with its completion if one is asked for (`vcpus`: the
    vCPU that kicks it and the one its interrupt goes to); a refusal is an
    outcome (the form shows it), and a refused completion takes the
    registration back out, so the form's submit is all or nothing."""
    try:
        reg_id = lab.add_registration(spec)
        reshare(lab)
    except EngineError as err:
        title = failure_title(err, "Registration rejected")
        return RegistrationRefused(spec, str(err), getattr(err, "field", None), title)
    if completion is None:
        return RegistrationAdded(reg_id, spec)
    kicker, target = vcpus
    try:
        if lab.vcpus > 1:
            lab.set_completion(reg_id, completion, target, kicker=kicker)
        else:
            lab.set_completion(reg_id, completion)
    except ENGINE_ERRORS as err:
        lab.remove_registration(reg_id)
        reshare(lab)
        return RegistrationRefused(spec, str(err), "completion", "Completion refused")
    return RegistrationAdded(reg_id, spec, completion, vcpus if lab.vcpus > 1 else None)


def add_zone(lab: LabPort, spec: ZoneSpec) -> Outcome:
    """Register a coalesced zone; a refusal is an outcome (the form shows it)."""
    try:
        return ZoneAdded(lab.add_zone(spec.bus, spec.addr, spec.size), spec)
    except EngineError as err:
        return RegistrationRefused(spec, str(err), getattr(err, "field", None), "Zone rejected")


def remove_zone(lab: LabPort, zone_id: int) -> Outcome:
    """Drain the ring and unregister `zone_id`; its final counts come back."""
    return ZoneRemoved(lab.remove_zone(zone_id))


def remove_registration(lab: LabPort, reg_id: int) -> Outcome:
    """Deassign `reg_id`; its final counts come back."""
    final = lab.remove_registration(reg_id)
    reshare(lab)  # a completion's slots ring on every vCPU again
    return RegistrationRemoved(final)


def pause(lab: LabPort) -> Outcome | None:
    """Park the guest at a quiescent point."""
    if lab.state == "paused":
        return None  # a repeated `p` that found it paused already: nothing changed
    return GuestPaused(lab.pause())


def resume(lab: LabPort) -> Outcome | None:
    """Let the guest ring again."""
    if lab.state != "paused":
        return None  # a repeated `p` that found it running already: nothing changed
    lab.resume()
    return GuestResumed()


def reset(lab: LabPort) -> Outcome:
    """Zero every count and histogram."""
    lab.reset_counters()
    return CountersReset()


def next_drain(lab: LabPort) -> Outcome:
    """The coalesced ring's other drain (at exits ↔ by a thread)."""
    mode = DRAIN_MODES[(DRAIN_MODES.index(lab.ring_drain) + 1) % len(DRAIN_MODES)]
    lab.set_ring_drain(mode)
    return DrainChanged(mode)


def next_reader(lab: LabPort) -> Outcome:
    """The next reader mode in `READERS` (none → poll → epoll → none)."""
    mode = READERS[(READERS.index(lab.reader) + 1) % len(READERS)]
    lab.set_reader(mode)
    return ReaderChanged(mode)


def toggle_pinning(lab: LabPort) -> Outcome:
    """Pin the vCPU thread(s) and the reader to separate CPUs, or unpin; a refusal is said."""
    try:
        lab.set_pinning(lab.pinning is None)
    except ENGINE_ERRORS as err:
        return PinningChanged(lab.pinning, refused=one_line(err))
    return PinningChanged(lab.pinning)


def toggle_pace(lab: LabPort) -> Outcome:
    """Pace the plan (wake-up latency), or ring flat out again; counters restart."""
    pace = None if lab.pace_us else PACE_US
    lab.set_pace(pace)
    lab.reset_counters()  # wake-up figures from one mode only
    return PaceChanged(pace)


def set_plan(lab: LabPort, plan: list[SlotSpec]) -> Outcome:
    """Apply a plan; a rejected one leaves the plan the guest rang before."""
    before = current_plan(lab)
    try:
        for slot in plan:
            slot.validate()
        apply_plan(lab, plan)
    except Exception as err:  # whatever refused it, keep a plan
        restore_failed = None
        try:
            if current_plan(lab) != before:
                apply_plan(lab, before)
        except Exception as again:
            restore_failed = one_line(again)
        return PlanRejected(one_line(err), restore_failed)
    return PlanChanged(plan)


def take_over(new: LabPort, old: LabPort) -> VcpusChanged:
    """`new` (another vCPU count) takes `old`'s plan, registrations, zones (and their
    ring's drain) and reader; `old`
    is closed.

    vCPUs cannot be added to a running VM's accounting, so the lab is rebuilt.
    When this raises, both labs are closed.
    """
    specs, plan, reader = old.registrations(), current_plan(old), old.reader
    zones = old.zones()
    drain = old.ring_drain if zones else None
    pinned, paced = old.pinning is not None, old.pace_us is not None
    routes = completion_routes(old, specs)
    dropped: list[int] = []
    why = ""
    try:
        old.close()
        apply_plan(new, plan)
        renumbered = {old_id: new.add_registration(spec) for old_id, spec in sorted(specs.items())}
        reshare(new)
        for old_id, (route, kicker, target) in routes.items():
            try:  # the new VM may have no irqchip: say so, keep the rest
                if new.vcpus > 1:  # the same vCPUs as before (vCPU 0 from a one-vCPU lab)
                    new.set_completion(renumbered[old_id], route, target, kicker=kicker)
                else:
                    new.set_completion(renumbered[old_id], route)
            except ENGINE_ERRORS as err:
                dropped.append(old_id)
                why = why or one_line(err)
        for zone in zones.values():  # after the registrations: what overlaps may change hands
            new.add_zone(zone.bus, zone.addr, zone.size)
        if drain is not None:
            new.set_ring_drain(drain)
        new.set_reader(reader)
        new.start()
    except ENGINE_ERRORS:
        new.close()
        raise
    if pinned:
        # The same machine allowed it a moment ago; the header tells if not.
        with suppress(*ENGINE_ERRORS):
            new.set_pinning(True)
    # Paced mode runs on one vCPU: a paced one-vCPU lab comes back flat out.
    vcpus = new.vcpus
    return VcpusChanged(
        vcpus,
        new.registrations(),
        renumbered,
        pace_dropped=paced and vcpus > 1,
        completions_dropped=tuple(dropped),
        dropped_why=why,
    )


def completion_routes(
    lab: LabPort, specs: dict[int, RegistrationSpec]
) -> dict[int, tuple[str, int, int]]:
    """(route, kicking vCPU, target vCPU) of each of `specs`' registrations that has
    a completion."""
    routes = {}
    for reg_id in specs:
        stats = lab.completion(reg_id)
        if stats is not None:
            routes[reg_id] = (stats.route, stats.kicker, stats.vcpu)
    return routes
