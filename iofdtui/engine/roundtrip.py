"""The kick → completion-interrupt round trip, timed per stage on the guest's clock.

A virtio device lives on the whole notification loop: the driver kicks (an
ioeventfd), the device thread wakes, works, and completes with an interrupt
through an irqfd (`KVM_IRQFD`), which KVM injects and the guest's handler
takes.  `RoundTripVM` runs that loop on a VM of its own with an in-kernel
irqchip (engine/native/roundtrip.c, the guest's `ENTRY_ROUNDTRIP`), one kick
in flight at a time, on one of three paths:

- `ioeventfd`: kick → eventfd → device thread (reader epoll or poll) → irqfd
  on an MSI route (`KVM_SET_GSI_ROUTING`) → handler;
- `user`: kick → userspace exit → the vCPU thread injects (`KVM_SIGNAL_MSI`)
  before it re-enters → handler (the baseline);
- `self-ipi`: the guest's own LAPIC, no host at all (the floor).

Each kick leaves a record of four guest-TSC stamps (kick, reader awake,
completion written, handler entered); host stamps are mapped with
`KVM_VCPU_TSC_OFFSET` (guest TSC = host TSC + offset), so the stages sum to
the round trip exactly.
"""

from __future__ import annotations

import errno as E
import time
from dataclasses import dataclass

from iofdtui.engine import host, native_reads
from iofdtui.engine.errors import EngineError, GuestFault, KvmUnavailable, start_error
from iofdtui.engine.kvm_stats import StatsFormatError, StatsReader
from iofdtui.engine.native import check, ffi, lib

PATHS = ("ioeventfd", "user", "self-ipi")
"""The round trip's paths, in the order a report shows them."""

_NATIVE_PATH = {
    "ioeventfd": lib.RT_PATH_IOEVENTFD,
    "user": lib.RT_PATH_USER,
    "self-ipi": lib.RT_PATH_SELF_IPI,
}
_NATIVE_READER = {"epoll": lib.LAB_CONSUMER_EPOLL, "poll": lib.LAB_CONSUMER_POLL}
_NATIVE_ROUTE = {"msi": lib.RT_ROUTE_MSI, "pin": lib.RT_ROUTE_PIN}
ROUTES = tuple(_NATIVE_ROUTE)
"""How the completion reaches the guest: an MSI (virtio-pci, vhost), or IOAPIC pin 10,
level-triggered and resampled at the guest's EOI (KVM_IRQFD_FLAG_RESAMPLE: VFIO INTx)."""

BUSES = ("pio", "mmio")
"""How the guest's kick is written: an OUT to port 0x520, or 4 bytes to 0xfe001000."""
RT_READERS = tuple(_NATIVE_READER)
"""Reader modes of the device thread (`none` would never answer a kick)."""

_MISBEHAVE = {None: 0, "skip-eoi": lib.RT_SKIP_EOI, "mask-lapic": lib.RT_MASK_LAPIC}

STAGES = ("awake", "written", "handler")
"""kick → reader awake, awake → completion written, written → handler entered."""

VECTOR = 0x40
"""The completion's vector (any of 32..255 would do)."""

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


@dataclass(frozen=True, slots=True)
class StageFigures:
    """One stage (or the whole round trip) over the kicks recorded: ns."""

    p50_ns: float
    p99_ns: float
    mean_ns: float


@dataclass(frozen=True, slots=True)
class RoundTripCounts:
    """Every count of one run at its checkpoint (guest-parked: nothing in flight)."""

    kicks: int
    handler_runs: int
    other_irqs: int
    signals: int
    reads: int
    coalesced: int
    completions: int
    completion_errors: int
    merged: int
    user_exits: int
    resamples: int

    def balanced(self, path: str, route: str = "msi") -> bool:
        """kicks = signals read = completions = handler runs (per path), exactly; on the
        pin route also = resamples (each EOI lowered the line once)."""
        ok = self.kicks == self.handler_runs and not self.other_irqs
        if route == "pin":
            ok &= self.resamples == self.handler_runs
        if path == "ioeventfd":
            ok &= self.signals == self.kicks == self.completions
        elif path == "user":
            ok &= self.user_exits == self.kicks == self.completions
        return ok and not self.completion_errors and not self.merged


@dataclass(frozen=True, slots=True)
class RoundTripResult:
    """One path (and reader) measured.

    Attributes:
        path: one of PATHS.
        bus: how the guest kicks: "pio" (an OUT) or "mmio" (a 4-byte write); the
            self-IPI's kick is its LAPIC's ICR, "lapic".
        route: "msi", "pin" (IOAPIC, level, resampled), or "self" (the self-IPI).
        reader: the device thread's mode (ioeventfd path), else None.
        seconds: wall time the guest ran.
        counts: the checkpoint's counts.
        exact: the guest parked itself and every count balanced.
        samples: kicks whose records the figures come from (the last ones).
        total: kick → handler entered.
        stages: per stage in STAGES (none on the self-IPI path, or without a
            guest↔host clock).
        negative: records with a stage below zero (a wrong clock mapping), left out.
        kernel: the vCPU's halt/injection statistics over the run, as named.
    """

    path: str
    bus: str
    route: str
    reader: str | None
    seconds: float
    counts: RoundTripCounts
    exact: bool
    samples: int
    total: StageFigures | None
    stages: dict[str, StageFigures]
    negative: int
    kernel: dict[str, int]

    @property
    def rate(self) -> float:
        """Round trips per second of wall time."""
        return self.counts.handler_runs / self.seconds if self.seconds > 0 else 0.0


def _figures(values: list[float]) -> StageFigures | None:
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    return StageFigures(
        p50_ns=ordered[(n - 1) // 2],
        p99_ns=ordered[min(n - 1, (99 * n) // 100)],
        mean_ns=sum(ordered) / n,
    )


def stage_figures(
    records: list[tuple[int, int, int, int]], tsc_khz: int, host_stamps: bool
) -> tuple[int, StageFigures | None, dict[str, StageFigures], int]:
    """(samples, total, stages, negative) from raw (kick, awake, written, handler) u32 stamps.

    Differences are signed 32-bit (the stamps are the TSC's low 32 bits); a
    record with a negative stage is left out and counted.
    """

    def span(a: int, b: int) -> int:
        d = (b - a) & 0xFFFF_FFFF
        return d - (1 << 32) if d & 0x8000_0000 else d

    ns = 1e6 / tsc_khz
    totals: list[float] = []
    parts: list[list[float]] = [[], [], []]
    negative = 0
    for kick, awake, written, handler in records:
        total = span(kick, handler)
        steps = (span(kick, awake), span(awake, written), span(written, handler))
        if total < 0 or (host_stamps and min(steps) < 0):
            negative += 1
            continue
        totals.append(total * ns)
        if host_stamps:
            for part, cycles in zip(parts, steps, strict=True):
                part.append(cycles * ns)
    stages = {}
    if host_stamps:
        for name, part in zip(STAGES, parts, strict=True):
            fig = _figures(part)
            if fig is not None:
                stages[name] = fig
    return len(totals), _figures(totals), stages, negative


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
        if route not in ROUTES or (route == "pin" and path != "ioeventfd"):
            raise ValueError(f"route must be msi (or pin, on the ioeventfd path), not {route!r}")
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
