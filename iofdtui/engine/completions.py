"""Completions on the lab's registrations: the reader answers each signal it
reads with an interrupt, through an irqfd, and the guest waits for it.

A base class of `Lab` (lab.py), like `LabReadout`.  The C side is
`native/completions.c`; the guest side `guests/doorbell.S` (`cpl`, KIND_CPL):
a slot whose registration has a completion rings once a visit, then waits
with `sti; hlt` until its handler has taken the completion's vector, so each
kick has at most one completion in flight and, at every pause,
kicks = signals read = irqfd writes = handler runs, per registration.

A lab needs an in-kernel irqchip for this (`Lab(completions=True)`), made
before its vCPUs; a lab without one is exactly the lab it always was.
"""

from __future__ import annotations

import errno as E
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from iofdtui.engine.arguments import check_id, is_int, is_number
from iofdtui.engine.completion_stats import (
    COMPLETION_ROUTES,
    MAX_DEVICE_WORK_US,
    CompletionStats,
)
from iofdtui.engine.errors import EngineError, LabClosed, RegistrationRejected
from iofdtui.engine.figures import cycles_to_ns
from iofdtui.engine.kicker_plans import split_plan
from iofdtui.engine.lab_part import LabPart
from iofdtui.engine.latency import NO_SAMPLES, Latency
from iofdtui.engine.model import SlotSpec, SpecError
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.ring_plan import RingPlan

if TYPE_CHECKING:
    from iofdtui.engine.registrations import Registration
    from iofdtui.engine.snapshot import RegistrationStats

_ROUTES = {None: lib.LAB_CPL_NONE, "msi": lib.LAB_CPL_MSI, "pin": lib.LAB_CPL_PIN}
_ROUTE_NAMES = {lib.LAB_CPL_MSI: "msi", lib.LAB_CPL_PIN: "pin"}
_STAGES = (lib.LAB_CPL_AWAKE, lib.LAB_CPL_WRITTEN, lib.LAB_CPL_HANDLER, lib.LAB_CPL_TOTAL)
_QUANTILES = (0.5, 0.99)


def _refused(reg_id: int) -> dict[int, object]:
    """set_completion's errors, each one line with its cause and its fix."""

    def err(code: int, text: str) -> object:
        return lambda c, what: EngineError(code, text)

    return {
        E.ENOTSUP: err(
            E.ENOTSUP,
            "completions need the lab's in-kernel irqchip: make the lab with "
            "Lab(completions=True) (the app's labs have one)",
        ),
        E.EXDEV: err(
            E.EXDEV,
            f"both vCPUs ring #{reg_id}: a completion needs one kicker (one kick in flight, "
            "and an eventfd cannot say who rang it); ring it from one vCPU's plan, or "
            "share one plan with Lab.share_plan and name its kicker",
        ),
        E.ENOSPC: err(
            E.ENOSPC,
            "no completion is free (128 vectors, 8 IOAPIC pins for the pin route): "
            "take one away first",
        ),
        E.ENOENT: lambda c, what: RegistrationRejected(E.ENOENT, f"no registration #{reg_id}"),
    }


def _stage(handle: object, native_id: int, stage: int, samples: int, tsc_khz: int) -> Latency:
    """One stage's quantiles and mean, in ns (NO_SAMPLES without samples)."""
    q = ffi.new("double[]", _QUANTILES)
    out = ffi.new("double[]", len(_QUANTILES))
    mean = ffi.new("double *")
    if not samples or not tsc_khz:
        return NO_SAMPLES
    if lib.lab_cpl_quantiles(handle, native_id, stage, q, len(_QUANTILES), out) < 0:
        return NO_SAMPLES
    if lib.lab_cpl_mean(handle, native_id, stage, mean) < 0 or mean[0] < 0:
        return NO_SAMPLES
    p50, p99 = (cycles_to_ns(v, tsc_khz) if v >= 0 else None for v in out)
    return Latency(samples, p50, p99, cycles_to_ns(mean[0], tsc_khz))


def _route_now(handle: object, native_id: int) -> str | None:
    """The route the engine has for a registration now (None: no completion)."""
    st = ffi.new("struct lab_cpl_stats *")
    if lib.lab_read_completion(handle, native_id, st) < 0:
        return None
    return _ROUTE_NAMES.get(st.route)


def read_completion(handle: object, native_id: int, tsc_khz: int) -> CompletionStats | None:
    """A registration's completion as the engine has it now (None: it has none)."""
    st = ffi.new("struct lab_cpl_stats *")
    if lib.lab_read_completion(handle, native_id, st) < 0:
        return None
    # Every stage is timed on the same kicks: the sample count is the completion's.
    stages = [_stage(handle, native_id, s, st.samples, tsc_khz) for s in _STAGES]
    route = _ROUTE_NAMES.get(st.route, "msi")
    return CompletionStats(
        route=route,
        vcpu=st.target,
        vector=st.vector,
        gsi=st.gsi,
        kicks=st.kicks,
        irqfd_writes=st.writes,
        write_errors=st.write_errors,
        merged=st.merged,
        handler_runs=st.handler_runs,
        resamples=st.resamples if route == "pin" else None,
        device_work_us=cycles_to_ns(st.work_cycles, tsc_khz) / 1000 if tsc_khz else 0.0,
        awake=stages[0],
        written=stages[1],
        handler=stages[2],
        round_trip=stages[3],
        negative=st.negative,
        unrecorded=st.unrecorded,
        kicker=st.kicker,
        runs_on=tuple(int(n) for n in st.runs_on),  # one per vCPU the engine can have
    )


def guest_halts(handle: object, vcpus: int) -> int:
    """The `hlt`s the guest made waiting for completions since the lab was made, every
    vCPU (u32 each, wrapping): as the kernel's halt_exits count them."""
    out = ffi.new("uint32_t *")
    total = 0
    for vcpu in range(vcpus):
        if lib.lab_peek(handle, vcpu * lib.VCPU_AREA + lib.CPL_HLTS, out) == 0:
            total += int(out[0])
    return total % (1 << 32)


def read_all(
    handle: object, regs: Sequence[Registration], tsc_khz: int
) -> tuple[tuple[int, CompletionStats], ...]:
    """(registration id, completion) for each of `regs` that has one."""
    out = []
    for reg in regs:
        if reg.completion is not None:
            stats = read_completion(handle, reg.native_id, tsc_khz)
            if stats is not None:
                out.append((reg.id, stats))
    return tuple(out)


def attach(
    handle: object,
    regs: Sequence[Registration],
    rows: list[RegistrationStats],
    tsc_khz: int,
) -> list[RegistrationStats]:
    """`rows` (one per `regs`, in order) with each completion's figures in its row,
    and none in the row of a registration whose completion was taken away."""
    for i, reg in enumerate(regs):
        if reg.completion is not None:
            rows[i] = with_completion(rows[i], read_completion(handle, reg.native_id, tsc_khz))
        elif rows[i].completion is not None:
            rows[i] = with_completion(rows[i], None)
    return rows


def with_completion(row: RegistrationStats, stats: CompletionStats | None) -> RegistrationStats:
    """`row` carrying `stats` (a new row object only when they differ)."""
    return row if row.completion == stats else replace(row, completion=stats)


class LabCompletions(LabPart):
    """`Lab`'s completion calls, and one plan shared by every vCPU (`share_plan`)."""

    vcpus: int
    tsc_khz: int
    irqchip: bool
    _closed: bool
    _shared: list[SlotSpec] | None = None  # the plan share_plan was given last
    _kickers: dict[int, int] | None = None  # registration id → the vCPU that kicks it

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:  # pragma: no cover
        """Lab.set_plans."""
        raise NotImplementedError

    def plan(self, vcpu: int = 0) -> list[SlotSpec]:  # pragma: no cover
        """Lab.plan."""
        raise NotImplementedError

    def share_plan(self, plan: Sequence[SlotSpec]) -> None:
        """Every vCPU rings `plan`, except a slot whose registration has a
        completion, which only its kicker rings (`set_completion(..., kicker=)`).
        Call it again after registrations come or go: which registration serves a
        slot may change."""
        plan = list(plan)
        kickers = {
            reg_id: vcpu
            for reg_id, vcpu in (self._kickers or {}).items()
            if reg_id in self._regs and self._regs[reg_id].completion is not None
        }
        with self._live():
            plans = split_plan(plan, self._regs, kickers, self.vcpus)
            # After an add or remove that moved no kicker the split is what the
            # vCPUs ring already: no new epoch, no pause of the guest for it.
            if plans != [self.plan(vcpu) for vcpu in range(self.vcpus)]:
                self.set_plans(plans)
            self._shared = plan
            self._kickers = kickers

    @property
    def shared_plan(self) -> list[SlotSpec] | None:
        """The plan `share_plan` was given last (None: the plans were set per vCPU).
        No lock, no engine call: the UI thread may ask.  Raises LabClosed after close."""
        if self._closed:
            raise LabClosed()
        return list(self._shared) if self._shared is not None else None

    @property
    def completions_note(self) -> str | None:
        """Why this lab cannot give a registration a completion, or None when it can
        (no lock, no engine call: the UI thread may ask).  Raises LabClosed after close."""
        if self._closed:
            raise LabClosed()
        if not self.irqchip and self.vcpus > 1:
            return (
                "this two-vCPU lab has no in-kernel irqchip "
                "(Lab(vcpus=2, completions=True) has one, as the app's labs do)"
            )
        if not self.irqchip:
            return "this lab has no in-kernel irqchip (Lab(completions=True) has one)"
        return None

    def _check_one_kicker(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """Refuse `plans` (one per vCPU) when both vCPUs would ring a registration
        that has a completion: one kick in flight needs one kicker."""
        for reg_id, reg in self._regs.items():
            if reg.completion is None:
                continue
            ringers = [
                vcpu
                for vcpu, slots in enumerate(plans)
                if any(RingPlan.serving(slot, self._regs) == reg_id for slot in slots)
            ]
            if len(ringers) > 1:
                raise SpecError(
                    f"both vCPUs would ring #{reg_id}, which has a completion: one kick in "
                    "flight needs one kicker; take its completion away first",
                    "plan",
                )

    def set_completion(
        self, reg_id: int, route: str | None, vcpu: int = 0, kicker: int | None = None
    ) -> None:
        """Answer each signal of registration #reg_id with an interrupt on `route`
        ("msi" or "pin", COMPLETION_ROUTES) to vCPU `vcpu`; None takes it away,
        deassigning its irqfd (KVM_IRQFD_FLAG_DEASSIGN).  Between two epochs.

        `kicker`, under a shared plan (`share_plan`): the one vCPU that rings
        its slots from now on (the target `vcpu` when None; the plans are split
        again first); without a shared plan the plans must already have it rung
        by one vCPU at most, and `kicker` is not used.

        Raises ValueError for a bad argument, RegistrationRejected for an
        unknown id, EngineError when the lab cannot (no irqchip, no vector free,
        a deassign the kernel refused), each with one line saying what to do.
        """
        check_id(reg_id)
        if route is not None and route not in COMPLETION_ROUTES:
            raise ValueError(
                f"a completion's route is one of {', '.join(COMPLETION_ROUTES)} or None, "
                f"not {route!r}"
            )
        if not is_int(vcpu) or not 0 <= vcpu < self.vcpus:
            raise ValueError(f"the completion's vCPU is 0..{self.vcpus - 1}, not {vcpu!r}")
        if kicker is not None and (not is_int(kicker) or not 0 <= kicker < self.vcpus):
            raise ValueError(f"the kicking vCPU is 0..{self.vcpus - 1}, not {kicker!r}")
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                raise RegistrationRejected(E.ENOENT, f"no registration #{reg_id}")
            shared = self._shared
            kickers = dict(self._kickers or {})
            if shared is not None and route is not None:
                # Its slots on its kicker alone (the target's, unless said) before
                # the engine checks that one vCPU kicks it.
                kickers[reg_id] = vcpu if kicker is None else kicker
                self.set_plans(split_plan(shared, self._regs, kickers, self.vcpus))
            try:
                self._set_completion(reg_id, route, vcpu)
            finally:
                if reg.completion is None:
                    kickers.pop(reg_id, None)
                self._kickers = kickers
                if shared is not None:
                    self.share_plan(shared)  # a refused or removed one rings everywhere again

    def _set_completion(self, reg_id: int, route: str | None, vcpu: int) -> None:
        """set_completion's engine call, with the lock held."""
        with self.paused():
            reg = self._regs.get(reg_id)
            if reg is None:
                raise RegistrationRejected(E.ENOENT, f"no registration #{reg_id}")
            had = reg.completion
            rc = lib.lab_set_completion(self._lab, reg.native_id, _ROUTES[route], vcpu)
            # A completion taken away is gone whatever the kernel said of its deassign.
            reg.completion = _route_now(self._lab, reg.native_id)
            if (
                rc < 0
                and had is not None
                and reg.completion is None
                and rc not in (-E.ENOSPC, -E.ENOMEM)
            ):
                raise EngineError(
                    -rc,
                    f"the kernel refused to deassign #{reg_id}'s irqfd "
                    f"({E.errorcode.get(-rc, -rc)}): the registration has no completion now",
                )
            check(rc, f"giving #{reg_id} a completion", _refused(reg_id))

    def set_device_work(self, work_us: float, reg_id: int | None = None) -> None:
        """The reader spins `work_us` µs after it wakes before it answers (0: at once),
        so a user can model a device that computes; takes effect at once.

        With `reg_id`, only that registration's completion (one device among
        several: the others answer as before); without, every completion's and
        the work a new one starts with.  The reader is one thread: a device's
        work delays the answers of the signals it reads after it.

        Raises ValueError for a bad value, RegistrationRejected when #reg_id
        is unknown or has no completion.
        """
        if not is_number(work_us) or not 0 <= work_us <= MAX_DEVICE_WORK_US:
            raise ValueError(f"device work is 0..{MAX_DEVICE_WORK_US:g} µs, not {work_us!r}")
        if work_us and not self.tsc_khz:
            raise ValueError("device work needs the guest TSC rate (KVM_GET_TSC_KHZ)")
        cycles = round(work_us * self.tsc_khz / 1000)
        with self._live():
            if reg_id is None:
                check(lib.lab_set_device_work(self._lab, cycles), "setting the device work")
                return
            check_id(reg_id)
            reg = self._regs.get(reg_id)
            if reg is None:
                raise RegistrationRejected(E.ENOENT, f"no registration #{reg_id}")
            if lib.lab_set_cpl_work(self._lab, reg.native_id, cycles) < 0:
                raise RegistrationRejected(
                    E.ENOENT,
                    f"#{reg_id} has no completion, so no device answers it: "
                    "give it one (add it with a completion) first",
                )

    def misbehave_completions(self, how: str | None) -> None:
        """Test hook: from now on the guest's handler skips its EOI ("skip-eoi") or
        software-disables its LAPIC ("mask-lapic"), as a broken guest would; None
        behaves again (a restart also clears what the LAPIC kept)."""
        codes = {None: 0, "skip-eoi": lib.RT_SKIP_EOI, "mask-lapic": lib.RT_MASK_LAPIC}
        if how not in codes:
            raise ValueError(f"misbehave how: skip-eoi, mask-lapic or None, not {how!r}")
        with self._live():
            check(lib.lab_cpl_misbehave(self._lab, codes[how]), "setting the test hook")

    def completion(self, reg_id: int) -> CompletionStats | None:
        """Registration #reg_id's completion now (None: it has none, or is gone)."""
        check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None or reg.completion is None:
                return None
            return read_completion(self._lab, reg.native_id, self.tsc_khz)
