"""The lab session: the one lab the app drives, and every engine call it makes.

Every engine call may block, so each runs in a thread worker (group
"engine") and holds one lock while it touches the lab: calls run one at a
time, and never after `shutdown()` closed the lab. A call reports back to
the screen that started the session with one message: `EngineDone` with
what it did, or `EngineFailed` with one line and a title. Start-up, the VM
rebuild and the periodic reading have shapes of their own, but live here too.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import partial

from textual.app import App
from textual.dom import DOMNode
from textual.message import Message

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import READERS
from iofdtui.ui.lab_port import LabFactory, LabPort
from iofdtui.ui.messages import (
    CountersReset,
    EngineDone,
    EngineFailed,
    GuestPaused,
    GuestResumed,
    LabFailed,
    LabStarted,
    Outcome,
    PaceChanged,
    PinningChanged,
    PlanChanged,
    PlanRejected,
    ReaderChanged,
    RegistrationAdded,
    RegistrationRefused,
    RegistrationRemoved,
    SnapshotReady,
    VcpusChanged,
)

REFRESH_INTERVALS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""What `s` cycles through, in seconds."""

CHECKPOINT_EVERY_S = 1.0
"""How often the poller parks the guest briefly for the exact conservation check."""

PACE_US = 100.0
"""The period `w` paces the plan at: one ring per visit, a wake-up per ring."""

ENGINE_ERRORS = (OSError, ValueError)
"""What an engine call raises when the engine or the kernel says no (EngineError is an
OSError, SpecError a ValueError); anything else is a bug, shown by the app as one."""

EngineCall = Callable[[LabPort], Outcome | None]
"""One engine call: runs on the lab (blocking), returns what it did (None: nothing)."""


def open_real_lab(vcpus: int = 1) -> LabPort:
    """The engine's lab on /dev/kvm (may raise `KvmUnavailable`)."""
    # Imported here so building the app (e.g. in layout tests) never loads
    # the native engine unless the real lab is asked for.
    from iofdtui.engine.lab import open_lab

    return open_lab(vcpus)


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
    """Every vCPU rings the same plan (so two vCPUs share each eventfd)."""
    if lab.vcpus > 1:
        lab.set_plans([plan] * lab.vcpus)
    else:
        lab.set_plan(plan)


class LabSession:
    """The lab, its poller and every engine call the UI makes (app-wide: one per app)."""

    def __init__(
        self,
        lab_factory: LabFactory = open_real_lab,
        *,
        vcpus: int = 1,
        pin: bool = False,
        refresh_interval: float = REFRESH_INTERVALS[0],
        checkpoint_every: float = CHECKPOINT_EVERY_S,
    ) -> None:
        """A session that builds its lab with `lab_factory` once `start()` is called.

        Args:
            lab_factory: builds the lab (in a worker); may raise `KvmUnavailable`.
            vcpus: vCPUs the VM starts with (`switch_vcpus` goes between one and two).
            pin: pin the vCPU thread(s) to one CPU and the reader and UI to another.
            refresh_interval: seconds between readings.
            checkpoint_every: seconds between exact checkpoints (brief pauses).
        """
        self.lab: LabPort | None = None
        """The running lab, once the start worker has built it."""
        self.vcpus = vcpus
        """vCPUs of the VM asked for (the lab's own once it runs)."""
        self.pin = pin
        """Whether pinning is wanted (kept across a VM rebuild)."""
        self.refresh_interval = refresh_interval
        """Seconds between readings (signals/s is over this interval)."""
        self.checkpoint_every = checkpoint_every
        """Seconds between exact checkpoints."""
        self.selected: int | None = None
        """The registration whose histograms each reading carries (set by the view)."""
        self.startup_error: str | None = None
        """Why the VM could not start, if it could not."""
        self._lab_factory = lab_factory
        self._host: DOMNode | None = None
        self._app: App[object] | None = None
        self._removing: set[int] = set()  # ids whose removal is in flight
        # One lock orders every engine call made by workers against shutdown(),
        # so nothing reaches a lab that has been torn down.
        self._engine_lock = threading.Lock()
        self._closing = False
        self._stop = threading.Event()
        self._poller_done = threading.Event()
        self._poller_done.set()

    # ------------------------------------------------------------ the session

    @property
    def ready(self) -> bool:
        """Whether a lab is up to take engine calls."""
        return self.lab is not None and not self._closing

    @property
    def removing(self) -> frozenset[int]:
        """Registration ids whose removal is on its way."""
        return frozenset(self._removing)

    def start(self, host: DOMNode) -> None:
        """Build the lab in a worker; `host` runs the workers and gets every report."""
        self._host = host
        self._app = host.app  # read here: a worker thread may not know the active app
        host.run_worker(
            self._start,
            name="starting the test VM",
            group="engine",
            thread=True,
            exclusive=True,
            exit_on_error=False,
        )

    def poll(self) -> None:
        """Start reading every refresh interval (after `LabStarted`, on the event loop)."""
        # Everything built so far lives as long as the app: keep it out of the
        # collector's full passes, and make those rarer (each stalls a frame by
        # ~60 ms with 1,000 registrations listed; nearly all our garbage is
        # acyclic and freed by reference counting anyway).
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 100)
        if self._host is not None:
            self._host.run_worker(
                self._poll,
                name="poller",
                group="poll",
                thread=True,
                exclusive=True,
                exit_on_error=False,
            )

    def read(self, checkpoint: bool = False) -> SnapshotReady | None:
        """One reading (blocking: the poller's thread, or a test); None once the lab is gone.

        Args:
            checkpoint: take an exact checkpoint (a brief pause) first.
        """
        with self._engine() as lab:
            if lab is None:
                return None
            if checkpoint:
                lab.checkpoint()
            snap = lab.snapshot()
            selected = self.selected
            stats = next((r for r in snap.registrations if r.id == selected), None)
            if stats is None:
                return SnapshotReady(snap)
            # Only what the pane draws: flat out, every reader's stream cost
            # measured since reset (the one in force among them); paced, the
            # kick and the wake-up.  Either way beside the userspace exit's.
            key = (stats.spec.bus, stats.baseline_width)
            paced = snap.pace_us is not None
            return SnapshotReady(
                snap,
                selected=stats.id,
                histogram=lab.registration_histogram(stats.id) if paced else [],
                baseline_key=key,
                baseline_histogram=lab.baseline_histogram(*key),
                reader_histograms={} if paced else lab.reader_histograms(stats.id),
                wake_histogram=lab.wake_histogram(stats.id) if paced else [],
            )

    def call(self, action: str, run: EngineCall, *, exclusive: bool = False) -> None:
        """Run one engine call in a worker; report `EngineDone` or `EngineFailed`.

        Args:
            action: what the call does, as a failure says it ("removing #3").
            run: the call itself, given the lab under the engine lock.
            exclusive: cancel the engine calls still waiting (a VM rebuild).
        """
        if self._host is None:
            return
        self._host.run_worker(
            partial(self._run, action, run),
            name=action,
            group="engine",
            thread=True,
            exclusive=exclusive,
            exit_on_error=False,
        )

    def shutdown(self) -> None:
        """Stop the poller and close the lab (blocking); safe to call twice."""
        self._stop.set()
        self._poller_done.wait(timeout=5.0)
        with self._engine_lock:
            self._closing = True
            lab, self.lab = self.lab, None
            if lab is not None:
                lab.close()

    # ---------------------------------------------------------- engine calls

    def add(self, spec: RegistrationSpec) -> None:
        """Register an ioeventfd; a refusal is an outcome (the form shows it)."""

        def run(lab: LabPort) -> Outcome:
            try:
                return RegistrationAdded(lab.add_registration(spec), spec)
            except EngineError as err:
                title = failure_title(err, "Registration rejected")
                return RegistrationRefused(spec, str(err), getattr(err, "field", None), title)

        self.call(f"registering {spec.describe()}", run)

    def remove(self, reg_id: int) -> bool:
        """Deassign `reg_id`; False when its removal is already on its way."""
        if reg_id in self._removing:
            return False
        self._removing.add(reg_id)

        def run(lab: LabPort) -> Outcome:
            try:
                return RegistrationRemoved(lab.remove_registration(reg_id))
            finally:
                # A plain set, no widget: discard is atomic under the GIL.
                self._removing.discard(reg_id)

        self.call(f"removing #{reg_id}", run)
        return True

    def pause(self) -> None:
        """Park the guest at a quiescent point."""

        def run(lab: LabPort) -> Outcome | None:
            if lab.state == "paused":
                return None  # a repeated `p` that found it paused already: nothing changed
            return GuestPaused(lab.pause())

        self.call("pausing the guest", run)

    def resume(self) -> None:
        """Let the guest ring again."""

        def run(lab: LabPort) -> Outcome | None:
            if lab.state != "paused":
                return None  # a repeated `p` that found it running already: nothing changed
            lab.resume()
            return GuestResumed()

        self.call("resuming the guest", run)

    def reset(self) -> None:
        """Zero every count and histogram."""

        def run(lab: LabPort) -> Outcome:
            lab.reset_counters()
            return CountersReset()

        self.call("resetting the counters", run)

    def cycle_reader(self) -> None:
        """The next reader mode in `READERS` (none → poll → epoll → none)."""

        def run(lab: LabPort) -> Outcome:
            mode = READERS[(READERS.index(lab.reader) + 1) % len(READERS)]
            lab.set_reader(mode)
            return ReaderChanged(mode)

        self.call("switching the eventfd reader", run)

    def toggle_pinning(self) -> None:
        """Pin the vCPU thread(s) and the reader to separate CPUs, or unpin."""

        def run(lab: LabPort) -> Outcome:
            want = lab.pinning is None
            try:
                lab.set_pinning(want)
            except ENGINE_ERRORS as err:
                return PinningChanged(lab.pinning, refused=one_line(err))
            self.pin = want
            return PinningChanged(lab.pinning)

        self.call("pinning the threads", run)

    def toggle_pace(self) -> None:
        """Pace the plan (wake-up latency), or ring flat out again."""

        def run(lab: LabPort) -> Outcome:
            pace = None if lab.pace_us else PACE_US
            lab.set_pace(pace)
            lab.reset_counters()  # wake-up figures from one mode only
            return PaceChanged(pace)

        self.call("pacing the ring plan", run)

    def set_plan(self, plan: list[SlotSpec]) -> None:
        """Apply a plan; a rejected one leaves the plan the guest rang before."""

        def run(lab: LabPort) -> Outcome:
            before = lab.plan()
            try:
                for slot in plan:
                    slot.validate()
                apply_plan(lab, plan)
            except Exception as err:  # whatever refused it, keep a plan
                restore_failed = None
                try:
                    if lab.plan() != before:
                        apply_plan(lab, before)
                except Exception as again:
                    restore_failed = one_line(again)
                return PlanRejected(one_line(err), restore_failed)
            return PlanChanged(plan)

        self.call("applying the ring plan", run)

    def switch_vcpus(self) -> None:
        """A new VM with the other vCPU count, the same plan and registrations."""
        lab = self.lab
        if lab is None:
            return
        vcpus = 1 if lab.vcpus > 1 else 2
        self.call(
            f"starting a VM with {vcpus} vCPUs", partial(self._rebuild, vcpus), exclusive=True
        )

    # ------------------------------------------------------- the scale sweep

    def hold_for_sweep(self) -> tuple[str, bool]:
        """Pause the live guest for a sweep (blocking: the sweep's worker thread).

        Returns what the scale screen should say, and whether this paused it
        (only then is it resumed afterwards: a guest the user paused stays so).
        """
        with self._engine() as lab:
            if lab is None:
                return "No live guest is running: the sweep has the CPUs to itself.", False
            if lab.state != "running":
                return "The live guest was already paused; it stays paused.", False
            try:
                exact = lab.pause()
            except EngineError as err:
                return f"The live guest could not be paused ({err}): figures may be noisy.", False
        self._post(EngineDone(GuestPaused(exact)))
        return (
            "The live guest is paused for the sweep, so the two VMs do not compete for the "
            f"{os.cpu_count() or 'few'} CPUs; it resumes when you close this screen.",
            True,
        )

    def release_after_sweep(self) -> None:
        """Let the live guest ring again once the sweep is over (blocking: its worker)."""
        if self._app is None or not self._app.is_running:
            return  # the app is quitting: the lab is about to be closed anyway
        with self._engine() as lab:
            if lab is None or lab.state != "paused":
                return
            try:
                lab.resume()
            except EngineError as err:
                action = "resuming the guest"
                title = failure_title(err, "Resuming the guest failed")
                self._post(EngineFailed(action, str(err), title))
                return
        self._post(EngineDone(GuestResumed()))

    # --------------------------------------------------------------- workers

    def _post(self, message: Message) -> None:
        if self._host is not None:
            self._host.post_message(message)

    @contextmanager
    def _engine(self) -> Iterator[LabPort | None]:
        """The lab, held against teardown for the duration of one engine call."""
        with self._engine_lock:
            yield None if self._closing else self.lab

    def _run(self, action: str, run: EngineCall) -> None:
        """The one engine worker: the call under the lock, its report posted under it too
        (so reports arrive in the order the calls ran)."""
        with self._engine() as lab:
            if lab is None:
                return
            try:
                outcome = run(lab)
            except ENGINE_ERRORS as err:
                title = failure_title(err, f"{action[:1].upper()}{action[1:]} failed")
                self._post(EngineFailed(action, one_line(err), title))
                return
            if outcome is not None:
                self._post(EngineDone(outcome))

    def _start(self) -> None:
        """Build the lab, apply the demo, start the guest (blocking: a worker)."""
        try:
            lab = self._lab_factory(self.vcpus)
        except OSError as err:
            # KvmUnavailable's str() is already one line with the cause and the fix.
            self._failed_to_start(str(err))
            return
        try:
            apply_plan(lab, demo_plan())
            for spec in demo_registrations():
                lab.add_registration(spec)
            lab.start()
            registrations = lab.registrations()
        except ENGINE_ERRORS as err:
            # EngineError is an OSError; a bare one (a thread or mmap the
            # kernel refused) is just as fatal: close what was built, one line.
            lab.close()
            self._failed_to_start(f"the demo could not start: {one_line(err)}")
            return
        pin_note = None
        if self.pin:
            try:
                lab.set_pinning(True)
            except ENGINE_ERRORS as err:
                pin_note = one_line(err)
        with self._engine_lock:
            if self._closing:
                lab.close()
                return
            self.lab = lab
        self._post(LabStarted(lab.machine, registrations))
        if self.pin:
            self._post(EngineDone(PinningChanged(lab.pinning, refused=pin_note)))

    def _failed_to_start(self, message: str) -> None:
        self.startup_error = message
        self._post(LabFailed(message))

    def _poll(self) -> None:
        """Read a snapshot every refresh interval; take a checkpoint every second.

        This is the only caller of `snapshot()` while the app runs, so its
        rates are over exactly the interval between two of these readings.
        """
        self._poller_done.clear()
        try:
            next_checkpoint = 0.0
            last_failure = None
            while not self._stop.is_set():
                due = time.monotonic() >= next_checkpoint
                try:
                    message = self.read(checkpoint=due)
                except Exception as err:  # the poller must outlive any reading
                    # An engine error, or a bug: either way the header must not
                    # freeze.  Say it once (not at every reading), then retry.
                    failure = one_line(err)
                    if failure != last_failure:
                        title = failure_title(err, "Reading the counters failed")
                        self._post(EngineFailed("reading the counters", failure, title))
                    last_failure = failure
                    self._stop.wait(max(1.0, self.refresh_interval))
                    continue
                last_failure = None
                if message is None:
                    return
                if due:
                    next_checkpoint = time.monotonic() + self.checkpoint_every
                self._post(message)
                self._stop.wait(self.refresh_interval)
        finally:
            self._poller_done.set()

    def _rebuild(self, vcpus: int, old: LabPort) -> Outcome:
        """Replace the lab with one of `vcpus` vCPUs (under the engine lock, in `_run`).

        vCPUs cannot be added to a running VM's accounting, so the lab is
        rebuilt; the poller waits on the engine lock meanwhile.
        """
        specs, plan, reader = old.registrations(), old.plan(), old.reader
        pinned, paced = old.pinning is not None, old.pace_us is not None
        new = self._lab_factory(vcpus)
        try:
            old.close()
            apply_plan(new, plan)
            renumbered = {
                old_id: new.add_registration(spec) for old_id, spec in sorted(specs.items())
            }
            new.set_reader(reader)
            new.start()
        except ENGINE_ERRORS:
            new.close()
            self.lab = None
            raise
        if pinned:
            # The same machine allowed it a moment ago; the header tells if not.
            with suppress(*ENGINE_ERRORS):
                new.set_pinning(True)
        self.lab = new
        self.vcpus = vcpus
        # Paced mode runs on one vCPU: a paced one-vCPU lab comes back flat out.
        return VcpusChanged(
            vcpus, new.registrations(), renumbered, pace_dropped=paced and vcpus > 1
        )
