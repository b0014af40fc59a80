"""The kick → completion-interrupt round trip, timed per stage on the guest's clock.

A virtio device lives on the whole notification loop: the driver kicks (an
ioeventfd), the device thread wakes, works, and completes with an interrupt
through an irqfd (`KVM_IRQFD`), which KVM injects and the guest's handler
takes.  `RoundTripVM` runs that loop on a VM of its own with an in-kernel
irqchip (engine/native/roundtrip.c, the guest's `ENTRY_ROUNDTRIP`), one kick
in flight at a time, on one of three paths:

- `ioeventfd`: kick → eventfd → device thread (reader epoll or poll) → irqfd
  on an MSI route (`KVM_SET_GSI_ROUTING`) → handler;
- `user`: kick → userspace exit → the vCPU thread injects (`KVM_SIGNAL_MSI`,
  or on the pin route `KVM_IRQ_LINE` up then down) before it re-enters →
  handler (the baseline);
- `self-ipi`: the guest's own LAPIC, no host at all (the floor).

Each kick leaves a record of four guest-TSC stamps (kick, reader awake,
completion written, handler entered); host stamps are mapped with
`KVM_VCPU_TSC_OFFSET` (guest TSC = host TSC + offset), so the stages sum to
the round trip exactly.
"""

from __future__ import annotations

import errno as E
import time

from iofdtui.engine import host, native_reads
from iofdtui.engine.errors import EngineError, GuestFault, KvmUnavailable, start_error
from iofdtui.engine.kvm_stats import StatsFormatError, StatsReader
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.roundtrip_figures import (
    BUSES,
    PATHS,
    ROUTES,
    VECTOR,
    RoundTripCounts,
    RoundTripResult,
    stage_figures,
)

_NATIVE_PATH = {
    "ioeventfd": lib.RT_PATH_IOEVENTFD,
    "user": lib.RT_PATH_USER,
    "self-ipi": lib.RT_PATH_SELF_IPI,
}
_NATIVE_READER = {"epoll": lib.LAB_CONSUMER_EPOLL, "poll": lib.LAB_CONSUMER_POLL}
_NATIVE_ROUTE = {"msi": lib.RT_ROUTE_MSI, "pin": lib.RT_ROUTE_PIN}
assert tuple(_NATIVE_ROUTE) == ROUTES and tuple(_NATIVE_PATH) == PATHS
RT_READERS = tuple(_NATIVE_READER)
"""Reader modes of the device thread (`none` would never answer a kick)."""

_MISBEHAVE = {None: 0, "skip-eoi": lib.RT_SKIP_EOI, "mask-lapic": lib.RT_MASK_LAPIC}

# What roundtrip.c's lab_facts.irqchip_missing names, 1-based.
_IRQ_CAPS = ("KVM_CAP_IRQCHIP", "KVM_CAP_IRQFD", "KVM_CAP_IRQ_ROUTING", "KVM_CAP_SIGNAL_MSI")

# vCPU statistics about halting and injecting, whichever this kernel's descriptors name.
KERNEL_STATS = (
    "halt_exits",
    "halt_wakeup",
    "halt_successful_poll",
    "halt_attempted_poll",
    "irq_injections",
    "irq_exits",
    "irq_window_exits",
)


class CompletionsUnsupported(EngineError):
    """This KVM cannot deliver completion interrupts; the rest of the lab still works."""


def completions_unsupported(missing: int, code: int) -> CompletionsUnsupported:
    """The one line that says which capability (or ioctl) stands in the way, and the fix."""
    if 1 <= missing <= len(_IRQ_CAPS):
        cap = _IRQ_CAPS[missing - 1]
        return CompletionsUnsupported(
            E.ENOTSUP,
            f"this kernel's KVM lacks {cap}, which completion interrupts need "
            "(the lab works without them); use an x86 Linux kernel with an in-kernel irqchip",
        )
    return CompletionsUnsupported(
        code or E.ENOTSUP,
        f"KVM_CREATE_IRQCHIP failed ({E.errorcode.get(code, code)}); completion interrupts "
        "need an in-kernel irqchip (the lab works without them): check dmesg",
    )


class RoundTripVM:
    """A VM with an in-kernel irqchip that runs the round-trip guest, one path at a time."""

    def __init__(self) -> None:
        out = ffi.new("struct lab **")
        stage = ffi.new("int *")
        detail = ffi.new("int64_t *")
        check(
            lib.lab_create_with(out, 1, 1, stage, detail),
            "creating the round-trip VM",
            raising=lambda code, what: start_error(stage[0], code, detail[0]),
        )
        self._lab = out[0]
        facts = native_reads.read_facts(self._lab)
        if not facts.irqchip:
            lib.lab_destroy(self._lab)
            self._lab = ffi.NULL
            raise completions_unsupported(facts.irqchip_missing, facts.irqchip_errno)
        self.machine = host.machine_facts(facts, 1)
        self.tsc_khz: int = facts.tsc_khz
        self.clock_note: str | None = host.clock_note(facts, host.tsc_flags())
        self.tsc_offset: str = host.tsc_offset_text(facts)
        fd = lib.lab_vcpu_stats_fd(self._lab, 0)
        try:
            self._stats: StatsReader | None = StatsReader(fd) if fd >= 0 else None
        except (OSError, StatsFormatError):
            self._stats = None

    def close(self) -> None:
        """Stop the guest, deassign the irqfd and the ioeventfd, free the VM."""
        if self._lab != ffi.NULL:
            lib.lab_destroy(self._lab)
            self._lab = ffi.NULL

    def __enter__(self) -> RoundTripVM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _kernel(self) -> dict[str, int]:
        if self._stats is None:
            return {}
        values = self._stats.read()
        return {n: v for n in KERNEL_STATS if isinstance(v := values.get(n), int)}

    def _fault(self, code: int, what: str) -> GuestFault:
        return GuestFault.from_fault(native_reads.read_fault(self._lab))

    def run(
        self,
        path: str,
        seconds: float,
        reader: str = "epoll",
        bus: str = "pio",
        route: str = "msi",
        work_us: float = 0.0,
        misbehave: str | None = None,
        pause_timeout: float = 2.0,
    ) -> RoundTripResult:
        """Run `path` for `seconds`, park the guest, and account for every kick.

        `work_us`: the device's work before it completes (a spin, host side).
        `misbehave`: test hook, a guest handler that never EOIs ("skip-eoi")
        or disables its LAPIC ("mask-lapic"): the next completion is then held
        or dropped and the guest waits in `hlt` for ever; the pause kicks it
        out, and the counts say so (kicks = handler runs + 1, not exact).
        """
        if path not in _NATIVE_PATH:
            raise ValueError(f"path must be one of {', '.join(PATHS)}, not {path!r}")
        if reader not in _NATIVE_READER:
            raise ValueError(f"reader must be one of {', '.join(RT_READERS)}, not {reader!r}")
        if not 0 <= work_us <= 10_000:
            raise ValueError(f"device work is 0..10,000 µs, not {work_us!r}")
        if route not in ROUTES or (route == "pin" and path == "self-ipi"):
            raise ValueError(f"route must be msi (or pin, on a host path), not {route!r}")
        if bus not in BUSES:
            raise ValueError(f"bus must be pio or mmio, not {bus!r}")
        if misbehave not in _MISBEHAVE:
            raise ValueError(f"misbehave must be skip-eoi or mask-lapic, not {misbehave!r}")
        if self._lab == ffi.NULL:
            raise KvmUnavailable(E.EBADF, "the round-trip VM is closed")
        work = int(work_us * self.tsc_khz / 1000)
        check(
            lib.lab_rt_setup(
                self._lab,
                _NATIVE_PATH[path],
                int(bus == "mmio"),
                _NATIVE_ROUTE[route],
                _NATIVE_READER[reader],
                VECTOR,
                work,
            ),
            "setting up the completion",
        )
        check(lib.lab_rt_misbehave(self._lab, _MISBEHAVE[misbehave]), "the test hook")
        before = self._kernel()
        started = time.monotonic()
        check(lib.lab_start(self._lab, lib.ENTRY_ROUNDTRIP), "starting the round-trip guest")
        try:
            time.sleep(seconds)
            rc = lib.lab_pause(self._lab, int(pause_timeout * 1000))
            elapsed = time.monotonic() - started
            check(rc, "pausing the round-trip guest", {E.EIO: self._fault})
            counts = self._counts()
            # A forced park may cut the last kick short of its handler: leave it out.
            records = self._records()[: None if rc == 0 else -1]
            after = self._kernel()
        finally:
            lib.lab_stop(self._lab)
            torn = lib.lab_rt_teardown(self._lab)
        check(torn, "deassigning the irqfd and the ioeventfd")
        host_stamps = path != "self-ipi" and self.clock_note is None
        samples, total, stages, negative = stage_figures(records, self.tsc_khz, host_stamps)
        return RoundTripResult(
            path=path,
            bus="lapic" if path == "self-ipi" else bus,
            route="self" if path == "self-ipi" else route,
            reader=reader if path == "ioeventfd" else None,
            seconds=elapsed,
            counts=counts,
            exact=rc == 0 and counts.balanced(path, route),
            samples=samples,
            total=total,
            stages=stages,
            negative=negative,
            kernel={n: after[n] - before.get(n, 0) for n in after},
        )

    def _counts(self) -> RoundTripCounts:
        st = ffi.new("struct lab_rt_stats *")
        check(lib.lab_rt_read(self._lab, st), "reading the round trip's counts")
        return RoundTripCounts(
            **{name: int(getattr(st, name)) for name in RoundTripCounts.__slots__}
        )

    def _records(self) -> list[tuple[int, int, int, int]]:
        buf = ffi.new("uint32_t[]", 4 * lib.RT_RECORDS)
        n = check(lib.lab_rt_records(self._lab, buf, lib.RT_RECORDS), "reading the records")
        flat = list(buf[0 : 4 * n])
        return [(flat[i], flat[i + 1], flat[i + 2], flat[i + 3]) for i in range(0, 4 * n, 4)]
