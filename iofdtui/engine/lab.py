"""The doorbell lab: a test VM whose guest rings doorbells, and the
registrations that catch them.

Every change (registration, ring plan, reset) is applied between two epochs:
the guest is asked to park at a quiescent point, the change is made, and the
guest resumes.  So every ring falls in exactly one epoch, is served by one
path, and the counts balance exactly at each pause.

With `Lab(vcpus=2)` two vCPUs run the same guest, each with its own ring
plan, counter pages and userspace exits; registrations are the VM's, so both
may ring one eventfd.  A pause parks both.
"""

from __future__ import annotations

import errno as E
import math
import threading
import time
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from iofdtui.engine import host, threads
from iofdtui.engine.errors import (
    EngineError,
    GuestFault,
    KvmUnavailable,
    LabClosed,
    PauseTimeout,
    RegistrationRejected,
    open_file_limit,
    start_error,
)
from iofdtui.engine.kernel_counters import KernelSample, OurCounts, compare, read_sample
from iofdtui.engine.kvm_stats import StatsFormatError, StatsReader
from iofdtui.engine.model import (
    KIND_NAMES,
    KINDS,
    MAX_SLOTS,
    RESERVED_PORTS,
    Bus,
    RegistrationSpec,
    SlotSpec,
    SpecError,
    format_addr,
)
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.snapshot import (
    READERS,
    Checkpoint,
    DoorbellStats,
    Health,
    Latency,
    MachineFacts,
    ReaderCost,
    RegistrationStats,
    SlotStats,
    Snapshot,
    VcpuCounts,
    WakeLatency,
    WhyCost,
)

_STATES = {
    lib.LAB_IDLE: "idle",
    lib.LAB_RUNNING: "running",
    lib.LAB_PARKED: "paused",
    lib.LAB_FAULTED: "faulted",
}
_QUANTILES = (0.5, 0.99)
# Reader name -> the engine's enum lab_consumer_mode.
_NATIVE_READER = {
    "epoll": lib.LAB_CONSUMER_EPOLL,
    "poll": lib.LAB_CONSUMER_POLL,
    "none": lib.LAB_CONSUMER_NONE,
}
_CURRENT = lib.LAB_MODE_CURRENT


_NO_SAMPLES = Latency.empty()
# The empty timed window's distribution in one mode (cycles): what each
# sample's timer share is taken from.
_Timer = namedtuple("_Timer", ("p05", "p50", "p99", "mean"))
_PATH_FIELDS = ("signals", "rings", "samples", "cycles", "reads")
_Path = namedtuple("_Path", _PATH_FIELDS)  # struct lab_path_stats of a registration, copied
_WAKE_FIELDS = ("samples", "coalesced", "raced", "foreign", "unpublished", "negative", "elsewhere")
_WakeCounts = namedtuple("_WakeCounts", _WAKE_FIELDS)  # struct lab_wake_stats, copied


def _mode(reader: str, paced: bool) -> int:
    """The engine's figure set for a reader and a pacing (enum lab_mode)."""
    return int(paced) * lib.LAB_READERS + _NATIVE_READER[reader]


@dataclass
class _Registration:
    spec: RegistrationSpec
    native_id: int
    eventfd: int
    last_signals: int = 0
    last_reads: int = 0  # the reader's reads of it at the previous snapshot


@dataclass
class _Retired:
    """Counts per doorbell: those of slots and registrations that are gone, or totals."""

    rings: int = 0
    exits: int = 0
    signals: int = 0
    exits_by_value: dict[tuple[int, int], int] = field(default_factory=dict)
    issued: int = 0
    by_vcpu: dict[int, list[int]] = field(default_factory=dict)  # vcpu -> [rings, exits, issued]

    def add_vcpu(self, vcpu: int, rings: int, exits: int, issued: int) -> None:
        """Add one slot's counts to its vCPU's share."""
        share = self.by_vcpu.setdefault(vcpu, [0, 0, 0])
        share[0] += rings
        share[1] += exits
        share[2] += issued


class Lab:
    """One test VM on /dev/kvm and its doorbell registrations.

    Thread-safety: public methods may be called from any thread; they are
    serialised by one lock.  None of them runs on the ring path.
    """

    def __init__(self, vcpus: int = 1) -> None:
        out = ffi.new("struct lab **")
        stage = ffi.new("int *")
        detail = ffi.new("int64_t *")
        rc = lib.lab_create(out, vcpus, stage, detail)
        if rc < 0:
            raise start_error(stage[0], -rc, detail[0])
        self._lab = out[0]
        self.vcpus: int = vcpus
        self._lock = threading.RLock()
        facts = ffi.new("struct lab_facts *")
        lib.lab_facts(self._lab, facts)
        self.tsc_khz: int = facts.tsc_khz
        self.any_length: bool = bool(facts.cap_any_length)
        module = host.kvm_module()
        emulated, note = host.emulation(module)
        caps = ["KVM_CAP_IOEVENTFD", "KVM_CAP_IMMEDIATE_EXIT", "KVM_CAP_USER_MEMORY"]
        if facts.cap_any_length:
            caps.append("KVM_CAP_IOEVENTFD_ANY_LENGTH")
        if facts.cap_no_length:
            caps.append("KVM_CAP_IOEVENTFD_NO_LENGTH")
        if facts.tsc_khz:
            caps.append("KVM_GET_TSC_KHZ")
        self.machine = MachineFacts(
            kernel=host.kernel_release(),
            kvm_module=module,
            emulated=emulated,
            emulation_note=note,
            tsc_khz=facts.tsc_khz,
            api_version=facts.api_version,
            capabilities=tuple(caps),
            vcpus=vcpus,
        )
        self._regs: dict[int, _Registration] = {}
        self._decoys: list[int] = []  # native ids
        self._consumer = "epoll"
        self._pinning: str | None = None
        self._sched = threads.SchedWatch()
        self._last_wakeups = 0
        self._why_cut = False
        self._pace_us: float | None = None
        self._tsc_flags = host.tsc_flags()
        self._removed: list[RegistrationStats] = []
        self._next_id = 1
        # Native slot index -> spec; slot s is vCPU s // MAX_SLOTS's.
        self._slots: dict[int, SlotSpec] = {}
        self._plans: list[list[int]] = [[] for _ in range(vcpus)]
        self._retired: dict[tuple[Bus, int], _Retired] = {}
        self._checkpoint: Checkpoint | None = None
        self._checkpoints = 0
        self._last_total: tuple[float, int] | None = None
        self._closed = False
        # One reader per vCPU: the kernel relations sum over every vCPU.
        self._stats: list[StatsReader] | None = None
        self._kernel_sample: KernelSample | None = None
        fds = [lib.lab_vcpu_stats_fd(self._lab, k) for k in range(vcpus)]
        self.kernel_stats_note = "KVM_CAP_BINARY_STATS_FD is missing: no kernel counters"
        if all(fd >= 0 for fd in fds):
            try:
                self._stats = [StatsReader(fd) for fd in fds]
                names = ", ".join(reader.id for reader in self._stats)
                self.kernel_stats_note = f"vCPU stats fd {names}"
            except (OSError, StatsFormatError) as err:
                self._stats = None
                self.kernel_stats_note = f"unreadable vCPU stats fd: {err}"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the vCPU and consumer threads; the guest begins ringing."""
        with self._live():
            check(lib.lab_start(self._lab, lib.ENTRY_LAB), "starting the vCPU")

    def start_bare(self, slot: SlotSpec) -> None:
        """Run the floor instead: a bare `write; jmp` loop on `slot`'s doorbell.

        No timing, no guest counters; rings are counted only as signals or exits.
        One vCPU only: the bare loops read vCPU 0's mailbox.
        """
        if self.vcpus > 1:
            raise ValueError("the bare floor loops run on one vCPU: use Lab(vcpus=1)")
        with self._live():
            if self.state != "idle":
                raise EngineError(E.EBUSY, "the bare loop starts a lab that has not started")
            self._check_plan([slot], 0)
            self._define_plan([slot])
            check(lib.lab_set_bare(self._lab, slot.addr, slot.value), "configuring the bare loop")
            check(lib.lab_start(self._lab, lib.ENTRY_BARE + slot.kind), "starting the vCPU")

    @property
    def reader(self) -> str:
        """How the eventfds are read: "none", "poll" or "epoll" (see READERS)."""
        return self._consumer

    consumer = reader  # the name before reader "none" existed

    def set_reader(self, mode: str) -> None:
        """Read the eventfds with no thread ("none"), a busy-polling one ("poll"),
        or one that sleeps in epoll_wait ("epoll"); takes effect between epochs.

        A sleeping reader must be woken by a signal, inside the guest's write;
        a polling one never sleeps but holds a CPU; with none, readings and
        pauses drain the counters and a signal wakes nobody.
        """
        native = _NATIVE_READER.get(mode) if isinstance(mode, str) else None
        if native is None:
            raise ValueError(f"the reader must be one of {', '.join(READERS)}, not {mode!r}")
        with self._live(), self.paused():
            check(lib.lab_set_consumer_mode(self._lab, native), "setting the reader")
            if mode != self._consumer:
                self._why_cut = True  # the next interval would straddle two readers
            self._consumer = mode

    set_consumer = set_reader

    @property
    def pinning(self) -> str | None:
        """Where the threads are pinned, e.g. "vCPU→CPU1 · reader and the rest→CPU0", or None."""
        return self._pinning

    def set_pinning(self, on: bool) -> None:
        """Pin the vCPU thread(s) to one CPU and every other thread (reader, UI) to
        another, with sched_setaffinity; or undo it.

        On two CPUs this separates "the write pays a wake-up" from "the woken
        reader preempts the vCPU", as VMMs pinning their threads do.
        """
        with self._live():
            if not on:
                check(lib.lab_pin(self._lab, -1, -1), "unpinning the vCPU threads")
                threads.unpin_others()
                self._pinning = None
                return
            vcpu_cpu, other_cpu = threads.pick_cpus()
            check(lib.lab_pin(self._lab, vcpu_cpu, other_cpu), "pinning the vCPU threads")
            threads.pin_others(other_cpu, exclude=self._vcpu_tids())
            self._pinning = f"vCPU→CPU{vcpu_cpu} · reader and the rest→CPU{other_cpu}"

    def _vcpu_tids(self) -> list[int]:
        st = ffi.new("struct lab_threads *")
        lib.lab_threads(self._lab, st)
        return [st.vcpu_tids[k] for k in range(self.vcpus) if st.vcpu_tids[k]]

    @property
    def pace_us(self) -> float | None:
        """Paced mode's period in µs, or None when the guest rings flat out."""
        return self._pace_us

    def set_pace(self, period_us: float | None) -> None:
        """Pace the plan: one ring per visit, at least `period_us` apart (None: flat out).

        Wake-up latency needs it: with one ring per wake-up, each wake-up
        belongs to exactly one ring.  Takes effect between epochs.
        """
        if period_us is not None and not _is_number(period_us):
            raise ValueError(f"the ring period is a number of µs, not {period_us!r}")
        if period_us is not None and not 1 <= period_us <= 100_000:
            raise ValueError("the ring period must be between 1 µs and 100 ms")
        if period_us is not None and not self.tsc_khz:
            raise ValueError("pacing needs the guest TSC rate (KVM_GET_TSC_KHZ)")
        if period_us is not None and self.vcpus > 1:
            # One ring record and one TSC offset (vCPU 0's): two publishers would mix.
            raise ValueError("paced mode (wake-up latency) runs on one vCPU: use Lab(vcpus=1)")
        cycles = 0 if period_us is None else round(period_us * self.tsc_khz / 1000)
        with self._live(), self.paused():
            check(lib.lab_set_pace(self._lab, cycles), "setting the ring pace")
            self._pace_us = period_us

    @property
    def wake_note(self) -> str | None:
        """Why wake-up latency cannot be shown honestly here, or None when it can."""
        facts = ffi.new("struct lab_facts *")
        with self._live():
            lib.lab_facts(self._lab, facts)
        if not facts.tsc_offset_ok:
            name = E.errorcode.get(facts.tsc_offset_errno, str(facts.tsc_offset_errno))
            return (
                f"no guest↔host clock: KVM_VCPU_TSC_OFFSET unavailable ({name}; "
                "Linux 5.16+ on x86 has it)"
            )
        if not self.tsc_khz:
            return "no TSC rate: KVM_GET_TSC_KHZ unavailable"
        missing = {"constant_tsc", "nonstop_tsc"} - self._tsc_flags
        if missing:
            return f"host TSC is not one clock (no {', '.join(sorted(missing))} in /proc/cpuinfo)"
        if facts.tsc_offset_changes:
            return f"the guest's TSC offset moved {facts.tsc_offset_changes}× during the run"
        return None

    def tsc_offset_text(self) -> str:
        """KVM_VCPU_TSC_OFFSET as a signed number of cycles, or why it is unknown."""
        facts = ffi.new("struct lab_facts *")
        with self._live():
            lib.lab_facts(self._lab, facts)
        if not facts.tsc_offset_ok:
            return "unknown"
        offset = facts.tsc_offset - (1 << 64) if facts.tsc_offset >> 63 else facts.tsc_offset
        return f"{offset:,} cycles"

    def _wake(self, reg: _Registration, note: str | None, st: _WakeCounts) -> WakeLatency | None:
        """Wake-up figures from `st`, read with the signals (so they add up)."""
        counts = (st.coalesced, st.raced, st.foreign, st.unpublished, st.negative, st.elsewhere)
        if st.samples == 0 and not any(counts):
            return None
        p50 = p99 = mean = None
        if st.samples and note is None and not st.negative:
            path = ffi.new("struct lab_path_stats *")
            lib.lab_read_path(self._lab, lib.LAB_PATH_WAKE, reg.native_id, _CURRENT, path)
            out = ffi.new("double[2]")
            lib.lab_quantiles(
                self._lab,
                lib.LAB_PATH_WAKE,
                reg.native_id,
                _CURRENT,
                ffi.new("double[]", _QUANTILES),
                2,
                out,
            )
            p50, p99 = self._cycles_to_ns(out[0]), self._cycles_to_ns(out[1])
            mean = self._cycles_to_ns(path.cycles / path.samples) if path.samples else None
        return WakeLatency(st.samples, p50, p99, mean, *counts)

    def wake_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Histogram of a live registration's wake-up latency (ns, count)."""
        _check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            return [] if reg is None else self.histogram(lib.LAB_PATH_WAKE, reg.native_id, _CURRENT)

    def stop(self) -> None:
        """Stop the vCPU and consumer threads (the VM stays, counts stay)."""
        with self._live():
            lib.lab_stop(self._lab)

    def close(self) -> None:
        """Stop, remove every registration, and free the VM and its fds."""
        with self._lock:  # not _live(): closing twice is fine
            if self._closed:
                return
            self._closed = True
            if self._pinning is not None:
                threads.unpin_others()  # the rest of the process gets its CPUs back
                self._pinning = None
            lib.lab_destroy(self._lab)
            self._lab = ffi.NULL

    @contextmanager
    def _live(self) -> Iterator[None]:
        """Hold the lab's lock; refuse to touch a closed lab's freed native state."""
        with self._lock:
            if self._closed:
                raise LabClosed()
            yield

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def state(self) -> str:
        """One of "idle", "running", "paused", "faulted" or "closed"."""
        with self._lock:
            if self._closed:
                return "closed"
            return _STATES.get(lib.lab_state(self._lab), "unknown")

    def fault(self) -> str | None:
        """What stopped the guest, if it faulted (None after close: nothing runs)."""
        buf = ffi.new("char[512]")
        with self._lock:
            if self._closed:
                return None
            lib.lab_fault(self._lab, buf, 512)
        text = ffi.string(buf).decode(errors="replace")
        return text or None

    # ---------------------------------------------------------------- epochs

    def pause(self, timeout: float = 2.0) -> bool:
        """Park the guest at a quiescent point and take every count.

        Returns True when the guest parked itself (counts exact), False when
        it had to be kicked out of KVM_RUN (a ring may be in flight).
        """
        if not _is_number(timeout) or not 0 < timeout <= 60:
            raise ValueError(f"the pause timeout is 0..60 s, not {timeout!r}")
        with self._live():
            rc = lib.lab_pause(self._lab, int(timeout * 1000))
            if rc == -E.EIO:
                raise GuestFault(E.EIO, f"the guest faulted: {self.fault()}")
            if rc == -E.ETIMEDOUT:
                raise PauseTimeout(
                    E.ETIMEDOUT,
                    "the guest did not park even after a kick; stop and restart the lab",
                )
            if rc == -E.ESRCH:
                return True  # not started: nothing is ringing
            check(rc, "pausing the guest")
            exact = rc == 0
            self._take_checkpoint(exact)
            return exact

    def resume(self) -> None:
        """Let a paused guest ring again."""
        with self._live():
            rc = lib.lab_resume(self._lab)
            if rc == -E.EIO:
                raise GuestFault(E.EIO, f"the guest faulted: {self.fault()}")

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Apply changes between two epochs: pause if running, resume after."""
        with self._live():
            was_running = self.state == "running"
            if was_running:
                self.pause()
            try:
                yield
            finally:
                if was_running:
                    self.resume()

    def checkpoint(self) -> Checkpoint:
        """Pause briefly, record the exact accounting, resume."""
        with self._live(), self.paused():
            if self._checkpoint is None or self.state != "paused":
                self._take_checkpoint(True)
            assert self._checkpoint is not None
            return self._checkpoint

    def run_epoch(self, seconds: float, warmup: float = 0.0) -> tuple[Snapshot, bool]:
        """From a pause: zero the counts, ring for `warmup + seconds`, pause again.

        Returns the paused snapshot and whether the epoch was exact: parked by
        handshake, every doorbell balanced and every ring on its predicted path.
        """
        for name, value in (("seconds", seconds), ("warmup", warmup)):
            if not _is_number(value) or not 0 <= value <= 86_400:
                raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
        self.reset_counters()
        self.resume()
        time.sleep(warmup + seconds)
        self.pause()  # takes the checkpoint
        checkpoint = self.checkpoint()
        return self.snapshot(), checkpoint.holds

    # --------------------------------------------------------- registrations

    def add_registration(self, spec: RegistrationSpec, prevalidate: bool = True) -> int:
        """Register an ioeventfd; returns its id. Raises RegistrationRejected.

        With `prevalidate=False` the spec goes to the kernel as it is, to
        see what KVM itself says of it (iofdtui still refuses its own ports).
        """
        _check_spec(spec)
        try:
            if prevalidate:
                spec.validate(any_length_supported=self.any_length)
            elif spec.bus is Bus.PIO and spec.addr in RESERVED_PORTS:
                spec.validate()
        except SpecError as err:
            raise RegistrationRejected(E.EINVAL, str(err), err.field) from None
        if not spec.fits_kernel():
            raise RegistrationRejected(
                E.EINVAL,
                f"{spec.describe()} does not fit struct kvm_ioeventfd (u64 address and "
                "trigger, u32 length)",
                "addr",
            )
        with self._live(), self.paused():
            native_id, efd = self._assign(spec)
            reg_id = self._next_id
            self._next_id += 1
            self._regs[reg_id] = _Registration(spec, native_id, efd)
            self._route_all()
            return reg_id

    def _assign(self, spec: RegistrationSpec) -> tuple[int, int]:
        """KVM_IOEVENTFD assign through the core: (native id, eventfd) or a rejection."""
        rid, efd, stage = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        rc = lib.lab_assign(
            self._lab,
            1 if spec.bus is Bus.PIO else 0,
            spec.addr,
            spec.width,
            0 if spec.trigger is None else 1,
            spec.trigger or 0,
            rid,
            efd,
            stage,
        )
        if rc < 0:
            raise self._rejection(spec, -rc, stage[0])
        return rid[0], efd[0]

    def remove_registration(self, reg_id: int) -> RegistrationStats:
        """Deassign and drain; the final counts stay in the accounting."""
        if not _is_int(reg_id):
            raise RegistrationRejected(E.EINVAL, f"a registration id is an int, not {reg_id!r}")
        with self._live(), self.paused():
            reg = self._regs.get(reg_id)
            if reg is None:
                raise RegistrationRejected(E.ENOENT, f"no registration #{reg_id}")
            timers = self._timers()
            paths = self._reg_paths([reg])[0]
            final_view = self._registration_stats(
                reg_id, reg, paths, self._baselines(timers), None, timers
            )
            final = ffi.new("struct lab_path_stats *")
            rc = lib.lab_deassign(self._lab, reg.native_id, final)
            del self._regs[reg_id]
            retired = self._retired.setdefault((reg.spec.bus, reg.spec.addr), _Retired())
            retired.signals += final.signals
            # The drain after deassign may add the last few signals.
            stats = replace(
                final_view,
                signals=final.signals,
                rings=final.rings,
                signals_per_s=None,
                removed=True,
            )
            self._removed.append(stats)
            self._route_all()
            if rc < 0:
                raise RegistrationRejected(
                    -rc, f"the kernel refused to deassign #{reg_id}: {E.errorcode.get(-rc, rc)}"
                )
            return stats

    def add_decoys(self, specs: Sequence[RegistrationSpec]) -> int:
        """Register many ioeventfds that no slot can ring, in one epoch.

        For scale experiments: decoys make the kernel's io bus longer without
        ever being signalled (each sits where the ring plan never writes), so
        they carry no counts and are not listed.  Returns how many were
        registered; raises RegistrationRejected at the first refusal, saying
        how many are in place.
        """
        rings_at = {s.doorbell for s in self._slots.values()}
        try:
            specs = list(specs)
        except TypeError:
            raise RegistrationRejected(
                E.EINVAL, f"decoys are a list of RegistrationSpec, not {specs!r}"
            ) from None
        for spec in specs:
            _check_spec(spec)
        with self._live(), self.paused():
            for spec in specs:
                if (spec.bus, spec.addr) in rings_at:
                    raise RegistrationRejected(
                        E.EINVAL, f"decoy {spec.describe()} sits on a doorbell the guest rings"
                    )
                try:
                    spec.validate(any_length_supported=self.any_length)
                except SpecError as err:
                    raise RegistrationRejected(E.EINVAL, str(err), err.field) from None
                try:
                    native_id, _efd = self._assign(spec)
                except RegistrationRejected as err:
                    raise RegistrationRejected(
                        err.errno or E.EIO, f"{err} (after {len(self._decoys)} decoys)"
                    ) from None
                self._decoys.append(native_id)
            return len(specs)

    def remove_decoys(self) -> None:
        """Deassign every decoy."""
        with self._live(), self.paused():
            for native in self._decoys:
                lib.lab_deassign(self._lab, native, ffi.NULL)
            self._decoys.clear()

    @property
    def decoy_count(self) -> int:
        """Decoys in place."""
        return len(self._decoys)

    def registrations(self) -> dict[int, RegistrationSpec]:
        """The live registrations by id."""
        with self._live():
            return {rid: reg.spec for rid, reg in self._regs.items()}

    def _rejection(self, spec: RegistrationSpec, code: int, stage: int) -> RegistrationRejected:
        live = len(self._regs) + len(self._decoys)
        if code == E.EEXIST:
            clash = next(
                ((rid, reg.spec) for rid, reg in self._regs.items() if reg.spec.collides(spec)),
                None,
            )
            named = f"#{clash[0]} ({clash[1].describe()})" if clash else "an existing one"
            return RegistrationRejected(
                code,
                f"EEXIST: {spec.describe()} collides with {named}; remove it first, "
                "or use another width or a different trigger value",
            )
        if code == E.EMFILE or code == E.ENFILE:
            return RegistrationRejected(
                code,
                f"{E.errorcode[code]}: out of file descriptors ({live} registrations, "
                f"open-file limit {open_file_limit()}); raise it with `ulimit -n`",
            )
        if code == E.ENOMEM:
            return RegistrationRejected(
                code,
                f"ENOMEM: the kernel's {spec.bus.value.upper()} bus array is full at {live} "
                "registrations (about 4 MiB of ranges); remove some",
            )
        if code == E.EINVAL:
            return RegistrationRejected(
                code,
                f"EINVAL: the kernel rejected {spec.describe()}: check width "
                "(1/2/4/8, or 0 only without a trigger) and that address + width does not wrap",
                "width",
            )
        if code == E.ENOSPC:
            return RegistrationRejected(
                code, f"ENOSPC: the kernel's io bus is full at {live} registrations"
            )
        where = {lib.LAB_ASSIGN_EVENTFD: "eventfd()", lib.LAB_ASSIGN_EPOLL: "epoll_ctl()"}
        return RegistrationRejected(
            code,
            f"{E.errorcode.get(code, code)} from {where.get(stage, 'KVM_IOEVENTFD')}: "
            f"{spec.describe()} was not registered",
        )

    # -------------------------------------------------------------- the plan

    def set_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        """Say which doorbells vCPU `vcpu` rings, with which values, in order."""
        self._check_plan(slots, vcpu)
        with self._live(), self.paused():
            self._define_plan(slots, vcpu)

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """One plan per vCPU (plans[k] for vCPU k), changed in one epoch."""
        if isinstance(plans, (str, bytes)) or not isinstance(plans, Sequence):
            raise SpecError("plans are a list of one plan per vCPU", "plan")
        if len(plans) != self.vcpus:
            raise SpecError(f"this lab has {self.vcpus} vCPU(s): give one plan each", "plan")
        for vcpu, slots in enumerate(plans):
            self._check_plan(slots, vcpu)
        with self._live(), self.paused():
            for vcpu, slots in enumerate(plans):
                self._define_plan(slots, vcpu)

    def _check_vcpu(self, vcpu: object) -> None:
        if not _is_int(vcpu) or not 0 <= vcpu < self.vcpus:  # type: ignore[operator]
            raise SpecError(f"vCPU {vcpu!r} does not exist (this lab has {self.vcpus})", "plan")

    def _check_plan(self, slots: Sequence[SlotSpec], vcpu: int) -> None:
        self._check_vcpu(vcpu)
        if isinstance(slots, (str, bytes)) or not isinstance(slots, Sequence):
            raise SpecError("a plan is a list of SlotSpec", "plan")
        if any(not isinstance(s, SlotSpec) for s in slots):
            raise SpecError("a plan holds SlotSpecs only", "plan")
        for slot in slots:
            slot.validate()
        identities = [(s.bus, s.addr, s.width, s.value) for s in slots]
        if len(set(identities)) != len(identities):
            raise SpecError("the same doorbell write appears twice in the plan", "value")
        if len(slots) > MAX_SLOTS:
            raise SpecError(f"the guest rings at most {MAX_SLOTS} writes", "plan")

    def plan(self, vcpu: int = 0) -> list[SlotSpec]:
        """vCPU `vcpu`'s ring plan, in the order it rings it."""
        self._check_vcpu(vcpu)
        with self._live():
            return [self._slots[i] for i in self._plans[vcpu]]

    def _define_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        def identity(s: SlotSpec) -> tuple[Bus, int, int, int]:
            return (s.bus, s.addr, s.width, s.value)

        # This vCPU's native slots (and counter pages) only.
        mine = range(vcpu * MAX_SLOTS, (vcpu + 1) * MAX_SLOTS)
        wanted = {identity(s): s for s in slots}
        kept: dict[tuple[Bus, int, int, int], int] = {}
        final = ffi.new("struct lab_slot_stats *")
        for index, spec in list(self._slots.items()):
            if index not in mine:
                continue
            if identity(spec) in wanted:
                kept[identity(spec)] = index
                continue
            check(lib.lab_clear_slot(self._lab, index, final), "clearing a slot")
            self._retire_slot(spec, final, vcpu)
            del self._slots[index]
        order = []
        for spec in slots:
            index = kept.get(identity(spec))
            if index is None:
                index = next(i for i in mine if i not in self._slots)
                check(
                    lib.lab_define_slot(self._lab, index, spec.kind, spec.addr, spec.value, final),
                    "defining a slot",
                )
            self._slots[index] = spec
            order.append(index)
        self._plans[vcpu] = order
        check(
            lib.lab_set_plan(
                self._lab,
                vcpu,
                ffi.new("int[]", order),
                ffi.new("uint32_t[]", [self._slots[i].weight for i in order]),
                len(order),
            ),
            "writing the ring plan",
        )
        self._route_all()

    def _retire_slot(self, spec: SlotSpec, final: object, vcpu: int) -> None:
        retired = self._retired.setdefault(spec.doorbell, _Retired())
        retired.rings += final.rings  # type: ignore[attr-defined]
        retired.exits += final.exits  # type: ignore[attr-defined]
        # Cleared at a quiescent point: every ring it issued is done.
        retired.add_vcpu(vcpu, final.rings, final.exits, final.rings)  # type: ignore[attr-defined]
        key = (spec.width, spec.value)
        retired.exits_by_value[key] = retired.exits_by_value.get(key, 0) + final.exits  # type: ignore[attr-defined]

    def _serving(self, spec: SlotSpec) -> int | None:
        """The registration the kernel hands this slot's writes to, if any."""
        for rid, reg in self._regs.items():
            if reg.spec.serves(spec):
                return rid
        return None

    def _route_all(self) -> None:
        for index, spec in self._slots.items():
            rid = self._serving(spec)
            native = -1 if rid is None else self._regs[rid].native_id
            check(lib.lab_set_route(self._lab, index, native), "routing a slot")

    # --------------------------------------------------------------- resets

    def reset_counters(self) -> None:
        """Zero every count and histogram, between two epochs."""
        with self._live(), self.paused():
            check(lib.lab_reset_counters(self._lab), "resetting counters")
            self._retired.clear()
            self._removed.clear()
            for reg in self._regs.values():
                reg.last_signals = 0
                reg.last_reads = 0
            self._last_wakeups = 0
            self._sched.reset()
            self._last_total = None
            # A fresh baseline: our counts are zero now, the kernel's are not.
            self._kernel_sample = None
            self._take_checkpoint(True)

    def scribble_guest_counters(self, seed: int = 1) -> None:
        """Test hook: make the guest write garbage over its counter pages."""
        if not _is_int(seed):
            raise ValueError(f"the seed must be an integer, not {seed!r}")
        with self._live():
            lib.lab_scribble(self._lab, seed & 0xFFFFFFFF)

    def poke_guest(self, gpa: int, value: int) -> None:
        """Test hook: write a u32 into guest RAM, as a misbehaving guest would."""
        _check_gpa(gpa)
        if not _is_int(value):
            raise ValueError(f"the value must be an integer, not {value!r}")
        with self._live():
            check(lib.lab_poke(self._lab, gpa, value & 0xFFFFFFFF), "writing guest RAM")

    def peek_guest(self, gpa: int) -> int:
        """Test hook: read a u32 of guest RAM."""
        _check_gpa(gpa)
        out = ffi.new("uint32_t *")
        with self._live():
            check(lib.lab_peek(self._lab, gpa, out), "reading guest RAM")
        return int(out[0])

    # -------------------------------------------------------------- reading

    def _cycles_to_ns(self, cycles: float) -> float:
        return cycles * 1e6 / self.tsc_khz if self.tsc_khz else float("nan")

    def _mode_now(self) -> int:
        return _mode(self._consumer, self._pace_us is not None)

    def timer_overhead_cycles(self, mode: int = _CURRENT) -> float | None:
        """Median cycles of the empty timed window (the timer's own cost) in `mode`."""
        timer = self._timer(mode)
        return None if timer is None else timer.p50

    def _timer(self, mode: int = _CURRENT) -> _Timer | None:
        """The empty timed window's p5, p50, p99 and mean in `mode`, or None before
        its first sample."""
        _check_mode(mode)
        out = ffi.new("double[3]")
        cal = ffi.new("struct lab_path_stats *")
        with self._live():
            lib.lab_quantiles(
                self._lab, lib.LAB_PATH_CAL, 0, mode, ffi.new("double[]", [0.05, 0.5, 0.99]), 3, out
            )
            lib.lab_read_path(self._lab, lib.LAB_PATH_CAL, 0, mode, cal)
        if out[1] < 0 or not cal.samples:
            return None
        return _Timer(out[0], out[1], out[2], cal.cycles / cal.samples)

    def _timers(self) -> dict[int, _Timer | None]:
        """The empty window in every mode (index: enum lab_mode), for one reading."""
        return {mode: self._timer(mode) for mode in range(lib.LAB_MODES)}

    def loop_ns_per_ring(self) -> float | None:
        """Guest time between visits per ring since reset, in the current mode.

        The loop's own overhead: setting up a slot, counting, the histogram,
        calibration.  Wall time per ring minus this is what the samples cover.
        """
        with self._live():
            cal = ffi.new("struct lab_path_stats *")
            lib.lab_read_path(self._lab, lib.LAB_PATH_CAL, 0, _CURRENT, cal)
            rings = self._rings_since_reset(self._read_slots())
            if not rings or not self.tsc_khz:
                return None
            return self._cycles_to_ns(cal.loop_cycles / rings)

    def latency(
        self, kind: int, ident: int, timer: _Timer | None = None, mode: int = _CURRENT
    ) -> Latency:
        """Net latency of one path in `mode` (see `Latency`).

        `timer` is the empty window's distribution in that mode; callers
        reading many paths pass it in so the calibration is read once per
        reading.
        """
        _check_path(kind, ident, mode)
        stats = ffi.new("struct lab_path_stats *")
        with self._live():
            if lib.lab_read_path(self._lab, kind, ident, mode, stats) < 0:
                return _NO_SAMPLES
        if timer is None:
            timer = self._timer(mode)
        return self._net_latency(kind, ident, stats, timer, mode)

    def _net_latency(
        self, kind: int, ident: int, stats: object, timer: _Timer | None, mode: int = _CURRENT
    ) -> Latency:
        """Per-ring cost from a path's samples, net of the timer overhead.

        A sample is a visit's cycles per ring, so the timer's own cost (once
        per visit) is its window / rings-per-visit in it (every visit of a
        path is the same length: a slot's weight only changes between
        epochs).  A timed window holds the same instructions as the empty
        one plus the writes, so it varies like it (under kvm_pvm the empty
        window has a tight mode and a long tail): each figure is net of the
        same figure of the empty window, p50 of p50, p99 of p99, mean of
        mean.  That is exact for a shift, and keeps a single paced write
        (where the timer is most of the window) from flipping with which
        side of the mode the empty window's median falls on.
        """
        samples = stats.samples  # type: ignore[attr-defined]
        if samples == 0:
            return _NO_SAMPLES
        per_sample = stats.rings / samples if stats.rings else 1.0  # type: ignore[attr-defined]
        if timer is None or not self.tsc_khz:
            return Latency(samples, None, None, None, per_sample)
        out = ffi.new("double[2]")
        lib.lab_quantiles(self._lab, kind, ident, mode, ffi.new("double[]", _QUANTILES), 2, out)
        mean = stats.cycles / samples  # type: ignore[attr-defined]
        return Latency(
            samples=samples,
            p50_ns=self._cycles_to_ns(out[0] - timer.p50 / per_sample),
            p99_ns=self._cycles_to_ns(out[1] - timer.p99 / per_sample),
            mean_ns=self._cycles_to_ns(mean - timer.mean / per_sample),
            rings_per_sample=per_sample,
        )

    def histogram(self, kind: int, ident: int, mode: int = _CURRENT) -> list[tuple[float, int]]:
        """A path's raw histogram: (bucket lower bound in ns, count), non-empty buckets."""
        _check_path(kind, ident, mode)
        buf = ffi.new("uint64_t[]", lib.HIST_BUCKETS)
        with self._live():
            if lib.lab_read_hist(self._lab, kind, ident, mode, buf, lib.HIST_BUCKETS) < 0:
                return []
        return [
            (self._cycles_to_ns(lib.lab_hist_value(b)), buf[b])
            for b in range(lib.HIST_BUCKETS)
            if buf[b]
        ]

    def _cost_histogram(self, kind: int, ident: int, mode: int) -> list[tuple[float, int]]:
        """A ring-cost path's histogram, shifted by the timer's share of each
        sample: the empty window's fast mode (its p5) / rings per sample, so a
        sample is never shown below zero (the table's figures subtract matched
        quantiles, see `_net_latency`)."""
        hist = self.histogram(kind, ident, mode)
        stats = ffi.new("struct lab_path_stats *")
        timer = self._timer(mode)
        if not hist or timer is None or lib.lab_read_path(self._lab, kind, ident, mode, stats):
            return hist
        per_sample = stats.rings / stats.samples if stats.samples and stats.rings else 1.0
        share = self._cycles_to_ns(timer.p05 / per_sample)
        # A bucket's lower bound below the share is timer noise, not a negative cost.
        return [(max(lo - share, 1.0), n) for lo, n in hist]

    def registration_histogram(self, reg_id: int) -> list[tuple[float, int]]:
        """Net histogram (ns, count) of the rings a live registration served,
        under the reader in force (its kicks when paced)."""
        _check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                return []
            return self._cost_histogram(lib.LAB_PATH_REG, reg.native_id, _CURRENT)

    def reader_histograms(self, reg_id: int) -> dict[str, list[tuple[float, int]]]:
        """Per reader measured since reset: a live registration's net stream histogram."""
        _check_id(reg_id)
        with self._live():
            reg = self._regs.get(reg_id)
            if reg is None:
                return {}
            out = {}
            for reader in READERS:
                mode = _mode(reader, False)
                hist = self._cost_histogram(lib.LAB_PATH_REG, reg.native_id, mode)
                if hist:
                    out[reader] = hist
            return out

    def baseline_histogram(self, bus: Bus, width: int) -> list[tuple[float, int]]:
        """Net histogram of the userspace-exit path for one bus and width, reader in force."""
        if not _is_int(width):
            raise ValueError(f"a width is an int, not {width!r}")
        kind = KINDS.get((bus, width))
        with self._live():
            return [] if kind is None else self._cost_histogram(lib.LAB_PATH_USER, kind, _CURRENT)

    def _baselines(self, timers: dict[int, _Timer | None]) -> dict[int, Latency]:
        mode = self._mode_now()
        return {
            kind: self.latency(lib.LAB_PATH_USER, kind, timers[mode], mode) for kind in KIND_NAMES
        }

    def _by_reader(
        self, reg: _Registration, paths: list[_Path], timers: dict[int, _Timer | None]
    ) -> tuple[ReaderCost, ...]:
        """Every reader mode this registration has samples under, since reset."""
        if not any(p.samples for p in paths):
            return ()  # never rung (most of 1,000 registrations): nothing to compute
        out = []
        for reader in READERS:
            stream, kick = (
                self._net_latency(lib.LAB_PATH_REG, reg.native_id, paths[mode], timers[mode], mode)
                for mode in (_mode(reader, False), _mode(reader, True))
            )
            if stream.samples or kick.samples:
                out.append(ReaderCost(reader, stream, kick))
        return tuple(out)

    def _registration_stats(
        self,
        reg_id: int,
        reg: _Registration,
        paths: list[_Path],
        baselines: dict[int, Latency],
        interval: float | None,
        timers: dict[int, _Timer | None],
        wake: WakeLatency | None = None,
        why: WhyCost | None = None,
        signals: int | None = None,
    ) -> RegistrationStats:
        """One registration from its paths in every mode (`_reg_paths`); `signals`
        when they were read apart (a live reading, with the wake-up figures)."""
        mode = self._mode_now()
        if signals is None:
            signals = paths[mode].signals
        latency = self._net_latency(
            lib.LAB_PATH_REG, reg.native_id, paths[mode], timers[mode], mode
        )
        width = reg.spec.width or next(
            (s.width for s in self._slots.values() if reg.spec.serves(s)), 0
        )
        kind = KINDS.get((reg.spec.bus, width))
        baseline = baselines.get(kind, _NO_SAMPLES) if kind is not None else _NO_SAMPLES
        # Like for like: both figures under the reader in force, both streams
        # (or both kicks when paced), each net of its own mode's timer overhead.
        ratio = None
        if latency.p50_ns and baseline.p50_ns and latency.p50_ns > 0 and baseline.p50_ns > 0:
            ratio = baseline.p50_ns / latency.p50_ns
        rate = None
        if interval:
            rate = (signals - reg.last_signals) / interval
        by_reader = self._by_reader(reg, paths, timers)
        kick = next((c.kick for c in by_reader if c.reader == self._consumer), None)
        return RegistrationStats(
            id=reg_id,
            spec=reg.spec,
            eventfd=reg.eventfd,
            signals=signals,
            signals_per_s=rate,
            rings=sum(p.rings for p in paths),  # every mode's: they add up to the signals
            latency=latency,
            baseline=baseline,
            ratio=ratio,
            wake=wake,
            kick=kick if kick is not None and kick.samples else None,
            by_reader=by_reader,
            why=why,
        )

    def _reg_paths(self, regs: Sequence[_Registration]) -> list[list[_Path]]:
        """Each registration's path in every mode (index: enum lab_mode), in one call."""
        n, modes = len(regs), lib.LAB_MODES
        ids = ffi.new("int[]", [reg.native_id for reg in regs] or [0])
        out = ffi.new("struct lab_path_stats[]", max(n, 1) * modes)
        lib.lab_read_regs(self._lab, ids, n, out)
        # The structs are six u64s (lab.h): one cast reads them all, copied out
        # (1,000 registrations: 6,000 structs a snapshot).
        words = memoryview(ffi.buffer(out)).cast("Q").tolist()
        width = ffi.sizeof("struct lab_path_stats") // 8
        stride = width * modes
        result = []
        for i in range(n):
            chunk = words[i * stride : (i + 1) * stride]
            signals = chunk[0]
            if sum(chunk) == signals * modes:  # never rung, never read: one shared row
                result.append([_Path(signals, 0, 0, 0, 0)] * modes)
                continue
            # signals, rings, samples, cycles, (loop_cycles), reads
            rows = (chunk[m * width : (m + 1) * width] for m in range(modes))
            result.append([_Path(r[0], r[1], r[2], r[3], r[5]) for r in rows])
        return result

    @staticmethod
    def _reads(paths: list[_Path]) -> int:
        """The reader's reads of a registration, every reader (each counted once)."""
        return sum(p.reads for p in paths[: lib.LAB_READERS])

    def _rings_since_reset(self, slot_stats: object) -> int:
        return sum(slot_stats[i].rings for i in self._slots) + sum(  # type: ignore[index]
            r.rings for r in self._retired.values()
        )

    def _doorbells(
        self, slot_stats: object, signals_by_reg: dict[int, int]
    ) -> tuple[DoorbellStats, ...]:
        """Per doorbell: retired counts plus the live slots' and registrations' (one pass each)."""
        # Retired slots left at a quiescent point: every ring they issued is done.
        totals: dict[tuple[Bus, int], _Retired] = {
            key: _Retired(
                r.rings,
                r.exits,
                r.signals,
                dict(r.exits_by_value),
                r.rings,
                {k: list(v) for k, v in r.by_vcpu.items()},
            )
            for key, r in self._retired.items()
        }
        for index, spec in self._slots.items():
            st = slot_stats[index]  # type: ignore[index]
            door = totals.setdefault(spec.doorbell, _Retired())
            door.rings += st.rings
            door.issued += st.issued
            door.exits += st.exits
            door.add_vcpu(index // MAX_SLOTS, st.rings, st.exits, st.issued)
            key = (spec.width, spec.value)
            door.exits_by_value[key] = door.exits_by_value.get(key, 0) + st.exits
        for rid, reg in self._regs.items():
            door = totals.setdefault((reg.spec.bus, reg.spec.addr), _Retired())
            door.signals += signals_by_reg[rid]
        return tuple(
            DoorbellStats(
                bus=bus,
                addr=addr,
                rings=t.rings,
                signals=t.signals,
                exits=t.exits,
                issued=t.issued,
                exits_by_value=tuple(
                    (w, v, n) for (w, v), n in sorted(t.exits_by_value.items()) if n
                ),
                per_vcpu=tuple(
                    VcpuCounts(k, *t.by_vcpu.get(k, (0, 0, 0))) for k in range(self.vcpus)
                ),
            )
            for (bus, addr), t in sorted(totals.items(), key=lambda kv: (kv[0][0].value, kv[0][1]))
        )

    def _attribution_ok(self, slot_stats: object, paths: dict[int, tuple[int, int]]) -> bool:
        """Each path got exactly the rings the kernel says it served (every mode)."""
        for rings, signals in paths.values():
            if rings != signals:
                return False
        for index in self._slots:
            st = slot_stats[index]  # type: ignore[index]
            if st.exits != st.rings_user:
                return False
        return True

    def _read_slots(self) -> object:
        n = self.vcpus * MAX_SLOTS
        stats = ffi.new("struct lab_slot_stats[]", n)
        lib.lab_read_slots(self._lab, stats, n)
        return stats

    def _read_live(self) -> tuple[object, dict[int, int], dict[int, object]]:
        """Slots, every registration's signals and its wake-up figures, read in the
        order that brackets them."""
        n = self.vcpus * MAX_SLOTS
        stats = ffi.new("struct lab_slot_stats[]", n)
        rids = list(self._regs)
        ids = ffi.new("int[]", [self._regs[r].native_id for r in rids] or [0])
        signals = ffi.new("uint64_t[]", max(len(rids), 1))
        wakes = ffi.new("struct lab_wake_stats[]", max(len(rids), 1))
        lib.lab_read_live(self._lab, stats, n, ids, signals, wakes, len(rids))
        # Copied out (an element of a cffi array does not keep the array alive):
        # struct lab_wake_stats is seven u64s, read in one cast.
        words = memoryview(ffi.buffer(wakes)).cast("Q")
        fields = len(_WAKE_FIELDS)
        return (
            stats,
            {rid: signals[i] for i, rid in enumerate(rids)},
            {rid: _WakeCounts(*words[i * fields : (i + 1) * fields]) for i, rid in enumerate(rids)},
        )

    def _take_checkpoint(self, exact: bool) -> None:
        slot_stats = self._read_slots()
        paths = {
            rid: (sum(p.rings for p in modes), modes[0].signals)
            for rid, modes in zip(
                self._regs, self._reg_paths(list(self._regs.values())), strict=True
            )
        }
        doorbells = self._doorbells(slot_stats, {rid: p[1] for rid, p in paths.items()})
        kernel = None
        if self._stats is not None:
            health = ffi.new("struct lab_health *")
            lib.lab_read_health(self._lab, health)

            def by_bus(bus: Bus, attr: str) -> int:
                return sum(getattr(d, attr) for d in doorbells if d.bus is bus)

            ours = OurCounts(
                rings=sum(d.rings for d in doorbells),
                pio_signals=by_bus(Bus.PIO, "signals"),
                pio_exits=by_bus(Bus.PIO, "exits"),
                mmio_signals=by_bus(Bus.MMIO, "signals"),
                mmio_exits=by_bus(Bus.MMIO, "exits"),
                control_outs=health.control_outs,
            )
            sample = read_sample(self._stats, ours)
            if self._kernel_sample is not None and exact:
                kernel = compare(self._kernel_sample, sample, self.machine.kvm_module)
            self._kernel_sample = sample if exact else None
        self._checkpoints += 1
        self._checkpoint = Checkpoint(
            number=self._checkpoints,
            taken_at=time.time(),
            exact=exact,
            doorbells=doorbells,
            attribution_ok=self._attribution_ok(slot_stats, paths),
            kernel=kernel,
        )

    def snapshot(self) -> Snapshot:
        """Read every counter without stopping the guest."""
        with self._live():
            now = time.monotonic()
            slot_stats, signals, wakes = self._read_live()
            # Every ring since reset, those of slots the plan has since dropped too.
            total = self._rings_since_reset(slot_stats)
            interval = None
            ring_rate = None
            rings_delta = None
            if self._last_total is not None:
                interval = now - self._last_total[0]
                rings_delta = total - self._last_total[1]
                if interval > 0:
                    ring_rate = rings_delta / interval
            self._last_total = (now, total)
            timers = self._timers()
            overhead = timers[self._mode_now()]
            baselines = self._baselines(timers)
            note = self.wake_note
            why = self._why(
                rings_delta,
                sum(signals[rid] - reg.last_signals for rid, reg in self._regs.items()),
            )
            regs = {}
            all_paths = self._reg_paths(list(self._regs.values()))
            for (rid, reg), paths in zip(self._regs.items(), all_paths, strict=True):
                reads = self._reads(paths)
                reg_why = None
                if why is not None:
                    reg_why = WhyCost(
                        reads - reg.last_reads,
                        signals[rid] - reg.last_signals,
                        why.preemptions,
                        why.runqueue_wait_ns,
                        why.rings,
                    )
                reg.last_reads = reads
                # The signals read live with the wake-up figures, not the later path read.
                regs[rid] = self._registration_stats(
                    rid,
                    reg,
                    paths,
                    baselines,
                    interval,
                    timers,
                    self._wake(reg, note, wakes[rid]),
                    reg_why,
                    signals[rid],
                )
            for rid, st in regs.items():
                self._regs[rid].last_signals = st.signals
            slots = []
            for vcpu, plan in enumerate(self._plans):
                for index in plan:
                    spec = self._slots[index]
                    st = slot_stats[index]
                    slots.append(
                        SlotStats(
                            index=index,
                            spec=spec,
                            rings=st.rings,
                            exits=st.exits,
                            served_by=self._serving(spec),
                            latency=self.latency(lib.LAB_PATH_SLOT, index, overhead),
                            vcpu=vcpu,
                        )
                    )
            health = ffi.new("struct lab_health *")
            lib.lab_read_health(self._lab, health)
            last_stray = None
            if health.stray_exits:
                bus = Bus.PIO if health.stray_pio else Bus.MMIO
                last_stray = (
                    f"{bus.value} {format_addr(bus, health.stray_port)}/{health.stray_width} "
                    f"←{health.stray_value:#x}"
                )
            state = _STATES.get(health.state, "unknown")
            return Snapshot(
                taken_at=now,
                interval_s=interval,
                state=state,
                fault=self.fault() if state == "faulted" else None,
                machine=self.machine,
                timer_overhead_ns=None if overhead is None else self._cycles_to_ns(overhead.p50),
                total_rings=total,
                ring_rate=ring_rate,
                registrations=tuple(regs[rid] for rid in sorted(regs)),
                removed=tuple(self._removed),
                slots=tuple(slots),
                doorbells=self._doorbells(slot_stats, signals),
                checkpoint=self._checkpoint,
                health=Health(
                    stray_exits=health.stray_exits,
                    last_stray=last_stray,
                    garbage_pages=health.garbage_pages,
                    forced_pauses=health.forced_parks,
                    unsolicited_parks=health.unsolicited_parks,
                ),
                consumer=self._consumer,
                pace_us=self._pace_us,
                wake_note=note,
                vcpus=self.vcpus,
                pinning=self._pinning,
                why=why,
            )

    def _why(self, rings: int | None, signals: int) -> WhyCost | None:
        """Lab-wide: the reader's wake-ups and the vCPU threads' scheduling since
        the previous snapshot (None on the first, or when /proc cannot tell)."""
        st = ffi.new("struct lab_threads *")
        lib.lab_threads(self._lab, st)
        sched = self._sched.delta([st.vcpu_tids[k] for k in range(self.vcpus)])
        wakeups = st.reader_wakeups - self._last_wakeups
        self._last_wakeups = st.reader_wakeups
        cut, self._why_cut = self._why_cut, False
        if sched is None or rings is None or wakeups < 0 or cut:
            return None
        return WhyCost(
            reader_wakeups=wakeups,
            signals=signals,
            preemptions=sched[0],
            runqueue_wait_ns=sched[1],
            rings=rings,
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _check_id(reg_id: object) -> None:
    if not _is_int(reg_id):
        raise ValueError(f"a registration id is an int, not {reg_id!r}")


def _check_spec(spec: object) -> None:
    if not isinstance(spec, RegistrationSpec):
        raise RegistrationRejected(
            E.EINVAL, f"a registration is a RegistrationSpec, not {type(spec).__name__}", "spec"
        )


def _check_mode(mode: object) -> None:
    if not _is_int(mode) or not -1 <= mode < lib.LAB_MODES:  # type: ignore[operator]
        raise ValueError(f"mode must be an enum lab_mode value, not {mode!r}")


def _check_path(kind: object, ident: object, mode: object) -> None:
    """The engine's path ids are C ints: refuse what cffi would turn into OverflowError."""
    c_int = range(-(1 << 31), 1 << 31)
    if not _is_int(kind) or not _is_int(ident) or kind not in c_int or ident not in c_int:
        raise ValueError(f"no latency path ({kind!r}, {ident!r})")
    _check_mode(mode)


def _check_gpa(gpa: object) -> None:
    """A guest-physical address the test hooks may touch: aligned, inside guest RAM."""
    if not _is_int(gpa):
        raise ValueError(f"a guest-physical address must be an integer, not {gpa!r}")
    limit = lib.GUEST_RAM_SIZE - 4
    if not 0 <= gpa <= limit or gpa % 4:  # type: ignore[operator]
        raise ValueError(
            f"guest address {gpa:#x} is not a 4-byte-aligned address inside guest RAM "
            f"(0..{limit:#x})"
        )


def open_lab(vcpus: int = 1) -> Lab:
    """Create a lab, or raise KvmUnavailable with a one-line explanation."""
    try:
        return Lab(vcpus)
    except KvmUnavailable:
        raise
    except OSError as err:  # pragma: no cover - unexpected set-up failure
        raise KvmUnavailable(err.errno or E.EIO, f"cannot start the test VM: {err}") from err
