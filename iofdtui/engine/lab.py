"""The doorbell lab: a test VM whose guest rings doorbells, and the
registrations that catch them.

Every change (registration, ring plan, reset) is applied between two epochs:
the guest is asked to park at a quiescent point, the change is made, and the
guest resumes.  So every ring falls in exactly one epoch, is served by one
path, and the counts balance exactly at each pause.

With `Lab(vcpus=2)` two vCPUs run the same guest, each with its own ring
plan, counter pages and userspace exits; registrations are the VM's, so both
may ring one eventfd.  A pause parks both.

`Lab` is the facade: it owns the native handle, the lock and the epochs, and
hands the work to `Registrations` (registrations.py), `RingPlan`
(ring_plan.py) and `Readings` (readings.py, figures from figures.py).
"""

from __future__ import annotations

import errno as E
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

from iofdtui.engine import host, native_reads, threads
from iofdtui.engine.arguments import check_gpa, check_spec, is_int, is_number
from iofdtui.engine.completions import LabCompletions
from iofdtui.engine.errors import (
    EngineError,
    GuestFault,
    KvmUnavailable,
    LabClosed,
    PauseTimeout,
    RegistrationRejected,
    deassign_refused,
    start_error,
)
from iofdtui.engine.kvm_stats import open_readers
from iofdtui.engine.lab_readout import LabReadout
from iofdtui.engine.lab_zones import LabZones
from iofdtui.engine.model import RESERVED_PORTS, Bus, RegistrationSpec, SlotSpec, SpecError
from iofdtui.engine.native import check, ffi, lib
from iofdtui.engine.native_reads import NATIVE_READER, STATES
from iofdtui.engine.readings import Readings, Settings
from iofdtui.engine.registrations import Registration, Registrations
from iofdtui.engine.ring_plan import RingPlan
from iofdtui.engine.snapshot import (
    READERS,
    Checkpoint,
    RegistrationStats,
    Snapshot,
)
from iofdtui.engine.zones import Zones


class Lab(LabReadout, LabCompletions, LabZones):
    """One test VM on /dev/kvm and its doorbell registrations.

    Thread-safety: public methods may be called from any thread; they are
    serialised by one lock.  None of them runs on the ring path.  After
    `close()` each raises LabClosed, except `state` ("closed"), `fault()`
    (None) and `close()` itself (it does nothing).
    """

    def __init__(self, vcpus: int = 1, completions: bool = False) -> None:
        out = ffi.new("struct lab **")
        stage = ffi.new("int *")
        detail = ffi.new("int64_t *")
        # Completions need an in-kernel irqchip, made before the vCPUs (completions.py).
        check(
            lib.lab_create_with(out, vcpus, 1 if completions else 0, stage, detail),
            "creating the test VM",
            raising=lambda code, what: start_error(stage[0], code, detail[0]),
        )
        self._lab = out[0]
        self.vcpus: int = vcpus
        self._lock = threading.RLock()
        self._closed = False
        facts = native_reads.read_facts(self._lab)
        self.tsc_khz: int = facts.tsc_khz
        self.any_length: bool = bool(facts.cap_any_length)
        self.irqchip: bool = bool(facts.irqchip)  # made: completions can run (completions.py)
        self.machine = host.machine_facts(facts, vcpus)
        self._reader = "epoll"
        self._pinning: str | None = None
        self._pace_us: float | None = None
        self._tsc_flags = host.tsc_flags()
        self._registrations = Registrations()
        self._plan = RingPlan(vcpus)
        stats_fds = [lib.lab_vcpu_stats_fd(self._lab, k) for k in range(vcpus)]
        self._readings = Readings(self.machine, open_readers(stats_fds))
        self._zones = Zones()
        self._readings.zones = self._zones
        self._plan.router = lambda spec, regs: self._zones.route(spec, regs)

    @property
    def _regs(self) -> dict[int, Registration]:
        """The live registrations by id (tests read their native ids)."""
        return self._registrations.live

    @property
    def _slots(self) -> dict[int, SlotSpec]:
        """Native slot index -> spec (tests find a slot's counter page by it)."""
        return self._plan.slots

    # ------------------------------------------------------------ lifecycle

    @contextmanager
    def _live(self) -> Iterator[None]:
        """Hold the lab's lock; refuse to touch a closed lab's freed native state."""
        with self._lock:
            if self._closed:
                raise LabClosed()
            yield

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
            self._plan.check([slot], 0)
            self._plan.define(self._lab, [slot], 0, self._regs)
            check(lib.lab_set_bare(self._lab, slot.addr, slot.value), "configuring the bare loop")
            check(lib.lab_start(self._lab, lib.ENTRY_BARE + slot.kind), "starting the vCPU")

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
            return STATES.get(lib.lab_state(self._lab), "unknown")

    def fault(self) -> str | None:
        """What stopped the guest, if it faulted (None after close: nothing runs)."""
        with self._lock:
            if self._closed:
                return None
            return native_reads.read_fault(self._lab)

    # -------------------------------------------------------------- settings

    @property
    def reader(self) -> str:
        """How the eventfds are read: "none", "poll" or "epoll" (see READERS)."""
        with self._live():
            return self._reader

    @property
    def consumer(self) -> str:
        """`reader` under its older name (before reader "none" existed), kept as an
        alias: the CLI's `--consumer` flag and callers of that name are public."""
        return self.reader

    def set_reader(self, mode: str) -> None:
        """Read the eventfds with no thread ("none"), a busy-polling one ("poll"),
        or one that sleeps in epoll_wait ("epoll"); takes effect between epochs.

        A sleeping reader must be woken by a signal, inside the guest's write;
        a polling one never sleeps but holds a CPU; with none, readings and
        pauses drain the counters and a signal wakes nobody.
        """
        native = NATIVE_READER.get(mode) if isinstance(mode, str) else None
        if native is None:
            raise ValueError(f"the reader must be one of {', '.join(READERS)}, not {mode!r}")
        with self._live(), self.paused():
            check(lib.lab_set_consumer_mode(self._lab, native), "setting the reader")
            if mode != self._reader:
                self._readings.cut_why()  # the next interval would straddle two readers
            self._reader = mode

    def set_consumer(self, mode: str) -> None:
        """`set_reader` under its older name, kept as an alias: the CLI's
        `--consumer` flag and callers of that name are public."""
        self.set_reader(mode)

    @property
    def pinning(self) -> str | None:
        """Where the threads are pinned, e.g. "vCPU→CPU1 · reader and the rest→CPU0", or None."""
        with self._live():
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
            tids = native_reads.read_threads(self._lab, self.vcpus)[1]
            threads.pin_others(other_cpu, exclude=[tid for tid in tids if tid])
            self._pinning = f"vCPU→CPU{vcpu_cpu} · reader and the rest→CPU{other_cpu}"

    @property
    def pace_us(self) -> float | None:
        """Paced mode's period in µs, or None when the guest rings flat out."""
        with self._live():
            return self._pace_us

    def set_pace(self, period_us: float | None) -> None:
        """Pace the plan: one ring per visit, at least `period_us` apart (None: flat out).

        Wake-up latency needs it: with one ring per wake-up, each wake-up
        belongs to exactly one ring.  Takes effect between epochs.
        """
        if period_us is not None and not is_number(period_us):
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
        with self._live():
            return host.clock_note(native_reads.read_facts(self._lab), self._tsc_flags)

    def tsc_offset_text(self) -> str:
        """KVM_VCPU_TSC_OFFSET as a signed number of cycles, or why it is unknown."""
        with self._live():
            return host.tsc_offset_text(native_reads.read_facts(self._lab))

    def _settings(self) -> Settings:
        return Settings(self._reader, self._pace_us, self._pinning, self.wake_note)

    # ---------------------------------------------------------------- epochs

    def pause(self, timeout: float = 2.0) -> bool:
        """Park the guest at a quiescent point and take every count.

        Returns True when the guest parked itself (counts exact), False when
        it had to be kicked out of KVM_RUN (a ring may be in flight).
        """
        if not is_number(timeout) or not 0 < timeout <= 60:
            raise ValueError(f"the pause timeout is 0..60 s, not {timeout!r}")
        with self._live():
            rc = lib.lab_pause(self._lab, int(timeout * 1000))
            if rc == -E.ESRCH:
                return True  # not started: nothing is ringing
            check(rc, "pausing the guest", {E.EIO: self._fault, E.ETIMEDOUT: PauseTimeout})
            exact = rc == 0
            self._readings.take_checkpoint(self._lab, self._registrations, self._plan, exact)
            return exact

    def _fault(self, code: int, what: str) -> GuestFault:
        """The error for -EIO from a call that runs the guest: it faulted, and how."""
        return GuestFault.from_fault(native_reads.read_fault(self._lab))

    def resume(self) -> None:
        """Let a paused guest ring again."""
        with self._live():
            # Only a fault stops a resume; its other returns are no-ops.
            if lib.lab_resume(self._lab) == -E.EIO:
                raise GuestFault.from_fault(native_reads.read_fault(self._lab))

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
            taken = self._readings.checkpoint
            if taken is None or self.state != "paused":
                taken = self._readings.take_checkpoint(
                    self._lab, self._registrations, self._plan, True
                )
            return taken

    def run_epoch(self, seconds: float, warmup: float = 0.0) -> tuple[Snapshot, bool]:
        """From a pause: zero the counts, ring for `warmup + seconds`, pause again.

        Returns the paused snapshot and whether the epoch was exact: parked by
        handshake, every doorbell balanced and every ring on its predicted path.
        """
        for name, value in (("seconds", seconds), ("warmup", warmup)):
            if not is_number(value) or not 0 <= value <= 86_400:
                raise ValueError(f"{name} must be a finite number of seconds, not {value!r}")
        self.reset_counters()
        self.resume()
        time.sleep(warmup + seconds)
        self.pause()  # takes the checkpoint
        checkpoint = self.checkpoint()
        return self.snapshot(), checkpoint.holds

    def reset_counters(self) -> None:
        """Zero every count and histogram, between two epochs."""
        with self._live(), self.paused():
            check(lib.lab_reset_counters(self._lab), "resetting counters")
            self._plan.reset()
            self._registrations.reset()
            self._zones.reset()
            self._readings.reset()
            self._readings.take_checkpoint(self._lab, self._registrations, self._plan, True)

    # --------------------------------------------------------- registrations

    def add_registration(self, spec: RegistrationSpec, prevalidate: bool = True) -> int:
        """Register an ioeventfd; returns its id. Raises RegistrationRejected.

        With `prevalidate=False` the spec goes to the kernel as it is, to
        see what KVM itself says of it (iofdtui still refuses its own ports).
        """
        check_spec(spec)
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
            reg_id = self._registrations.add(self._lab, spec)
            self._zones.registration_added(reg_id, spec)
            self._plan.route_all(self._lab, self._regs)
            return reg_id

    def remove_registration(self, reg_id: int) -> RegistrationStats:
        """Deassign and drain; the final counts stay in the accounting."""
        if not is_int(reg_id):
            raise RegistrationRejected(E.EINVAL, f"a registration id is an int, not {reg_id!r}")
        with self._live(), self.paused():
            reg = self._regs.get(reg_id)
            if reg is None:
                raise RegistrationRejected(E.ENOENT, f"no registration #{reg_id}")
            settings = self._settings()
            view = self._readings.final_row(self._lab, reg, self._plan, settings)
            reg, signals, rings, rc = self._registrations.deassign(self._lab, reg_id)
            self._zones.registration_removed(reg_id)
            self._plan.retire_signals(reg.spec, signals)
            # The drain after deassign may add the last few signals.
            stats = replace(view, signals=signals, rings=rings, signals_per_s=None, removed=True)
            self._registrations.removed.append(stats)
            self._plan.route_all(self._lab, self._regs)
            if rc < 0:
                raise deassign_refused(reg_id, -rc)
            return stats

    def add_decoys(self, specs: Sequence[RegistrationSpec]) -> int:
        """Register many ioeventfds that no slot can ring, in one epoch.

        For scale experiments: decoys make the kernel's io bus longer without
        ever being signalled (each sits where the ring plan never writes), so
        they carry no counts and are not listed.  Returns how many were
        registered; raises RegistrationRejected at the first refusal, saying
        how many are in place.
        """
        try:
            specs = list(specs)
        except TypeError:
            raise RegistrationRejected(
                E.EINVAL, f"decoys are a list of RegistrationSpec, not {specs!r}"
            ) from None
        for spec in specs:
            check_spec(spec)
        with self._live(), self.paused():
            rings_at = self._plan.doorbells_rung()
            self._registrations.add_decoys(self._lab, specs, rings_at, self.any_length)
            return len(specs)

    def remove_decoys(self) -> None:
        """Deassign every decoy."""
        with self._live(), self.paused():
            self._registrations.remove_decoys(self._lab)

    @property
    def decoy_count(self) -> int:
        """Decoys in place."""
        with self._live():
            return len(self._registrations.decoys)

    def registrations(self) -> dict[int, RegistrationSpec]:
        """The live registrations by id."""
        with self._live():
            return self._registrations.specs()

    # -------------------------------------------------------------- the plan

    def set_plan(self, slots: Sequence[SlotSpec], vcpu: int = 0) -> None:
        """Say which doorbells vCPU `vcpu` rings, with which values, in order."""
        self._plan.check(slots, vcpu)
        with self._live():  # the registrations and the other plans, as they are now
            self._check_one_kicker(
                [slots if k == vcpu else self._plan.plan(k) for k in range(self.vcpus)]
            )
            with self.paused():
                self._plan.define(self._lab, slots, vcpu, self._regs)

    def set_plans(self, plans: Sequence[Sequence[SlotSpec]]) -> None:
        """One plan per vCPU (plans[k] for vCPU k), changed in one epoch."""
        if isinstance(plans, (str, bytes)) or not isinstance(plans, Sequence):
            raise SpecError("plans are a list of one plan per vCPU", "plan")
        if len(plans) != self.vcpus:
            raise SpecError(f"this lab has {self.vcpus} vCPU(s): give one plan each", "plan")
        for vcpu, slots in enumerate(plans):
            self._plan.check(slots, vcpu)
        with self._live():
            self._check_one_kicker(plans)
            with self.paused():
                for vcpu, slots in enumerate(plans):
                    self._plan.define(self._lab, slots, vcpu, self._regs)

    def plan(self, vcpu: int = 0) -> list[SlotSpec]:
        """vCPU `vcpu`'s ring plan, in the order it rings it."""
        self._plan.check_vcpu(vcpu)
        with self._live():
            return self._plan.plan(vcpu)

    # ------------------------------------------------------------ test hooks

    def scribble_guest_counters(self, seed: int = 1) -> None:
        """Test hook: make the guest write garbage over its counter pages."""
        if not is_int(seed):
            raise ValueError(f"the seed must be an integer, not {seed!r}")
        with self._live():
            check(lib.lab_scribble(self._lab, seed & 0xFFFFFFFF), "scribbling the counter pages")

    def poke_guest(self, gpa: int, value: int) -> None:
        """Test hook: write a u32 into guest RAM, as a misbehaving guest would."""
        check_gpa(gpa)
        if not is_int(value):
            raise ValueError(f"the value must be an integer, not {value!r}")
        with self._live():
            check(lib.lab_poke(self._lab, gpa, value & 0xFFFFFFFF), "writing guest RAM")

    def peek_guest(self, gpa: int) -> int:
        """Test hook: read a u32 of guest RAM."""
        check_gpa(gpa)
        out = ffi.new("uint32_t *")
        with self._live():
            check(lib.lab_peek(self._lab, gpa, out), "reading guest RAM")
        return int(out[0])


def open_lab(vcpus: int = 1, completions: bool = False) -> Lab:
    """Create a lab, or raise KvmUnavailable with a one-line explanation."""
    try:
        return Lab(vcpus, completions)
    except KvmUnavailable:
        raise
    except OSError as err:  # pragma: no cover - unexpected set-up failure
        raise KvmUnavailable(err.errno or E.EIO, f"cannot start the test VM: {err}") from err
