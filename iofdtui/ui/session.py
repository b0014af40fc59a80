"""The lab session: the one lab the app drives, and the one way every engine call runs.

Every engine call may block, so `call()` runs it in a thread worker (group
"engine") holding one lock while it touches the lab: calls run one at a time,
and never after `shutdown()` closed the lab. A call reports to the app with
one message: `EngineDone` with what it did, or `EngineFailed` with one line
and a title. What each call does is in `ui/engine_calls.py`; start-up, the VM
rebuild, the periodic reading and the scale sweep's hold are here.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import partial

from textual.app import App
from textual.message import Message

from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import RegistrationSpec, SlotSpec
from iofdtui.engine.zone_stats import ZoneSpec
from iofdtui.recording.writer import RecordWriteError
from iofdtui.ui import engine_calls as calls
from iofdtui.ui.engine_calls import ENGINE_ERRORS, EngineCall, failure_title, one_line
from iofdtui.ui.lab_port import LabFactory, LabPort
from iofdtui.ui.messages import (
    EngineDone,
    EngineFailed,
    GuestPaused,
    GuestResumed,
    LabFailed,
    LabStarted,
    Outcome,
    PinningChanged,
    SnapshotReady,
)
from iofdtui.ui.session_recording import SessionRecording
from iofdtui.ui.traced_witness import TracedWitness

REFRESH_INTERVALS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""What `s` cycles through, in seconds."""

CHECKPOINT_EVERY_S = 1.0
"""How often the poller parks the guest briefly for the exact conservation check."""


def open_real_lab(vcpus: int = 1) -> LabPort:
    """The engine's lab on /dev/kvm (may raise `KvmUnavailable`)."""
    # Imported here so building the app (e.g. in layout tests) never loads
    # the native engine unless the real lab is asked for.
    from iofdtui.engine.lab import open_lab

    # With an in-kernel irqchip, so a registration may carry a completion (on two
    # vCPUs too: one kicks it, either takes the interrupt).
    return open_lab(vcpus, completions=True)


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
        setup: Callable[[LabPort], dict[int, RegistrationSpec]] = calls.start_demo,
        trace_self: bool = False,
    ) -> None:
        """A session that builds its lab with `lab_factory` once `start()` is called.

        Args:
            lab_factory: builds the lab (in a worker); may raise `KvmUnavailable`.
            vcpus: vCPUs the VM starts with (`switch_vcpus` goes between one and two).
            pin: pin the vCPU thread(s) to one CPU and the reader and UI to another.
            refresh_interval: seconds between readings.
            checkpoint_every: seconds between exact checkpoints (brief pauses).
            setup: what is done on a new lab before it is shown, returning its
                registrations: the demo, started (a replay changes nothing).
            trace_self: trace this process's doorbells too, where tracefs allows
                (`traced_witness.py`: a third witness at each checkpoint).
        """
        self.traced: TracedWitness | None = None
        """The kernel tracepoints' witness, once started (None: not asked, or no tracefs)."""
        self._trace_self = trace_self
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
        self.recording = SessionRecording()
        """The recording of readings and events, while one is on (`--record`, `R`)."""
        self._lab_factory = lab_factory
        self._setup = setup
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
        """Registration ids whose removal is on its way (or not yet off the table)."""
        return frozenset(self._removing)

    def next_refresh_interval(self) -> float:
        """Step to the next refresh interval (kvm_stat's `s`), and return it."""
        now = self.refresh_interval
        index = REFRESH_INTERVALS.index(now) if now in REFRESH_INTERVALS else -1
        self.refresh_interval = REFRESH_INTERVALS[(index + 1) % len(REFRESH_INTERVALS)]
        return self.refresh_interval

    def start(self, app: App[object]) -> None:
        """Build the lab in a worker; `app` runs the workers and gets every report."""
        self._app = app
        app.run_worker(
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
        if self._app is not None:
            self._app.run_worker(
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
            return None if lab is None else self._take(lab, checkpoint)

    def _take(self, lab: LabPort, checkpoint: bool) -> SnapshotReady:
        """A reading, recorded if a recording is on (the engine lock held)."""
        reading = self._reading(lab, checkpoint)
        failure = self.recording.frame(lab, reading, checkpoint)
        if failure is not None:
            self._post(EngineFailed("recording", failure, "Recording stopped"))
        return reading

    def _reading(self, lab: LabPort, checkpoint: bool) -> SnapshotReady:
        """One reading of `lab` (under the engine lock), with the selected path's histograms."""
        traced = self._traced_checkpoint(lab) if checkpoint else self._traced_poll()
        snap = lab.snapshot()
        selected = self.selected
        stats = next((r for r in snap.registrations if r.id == selected), None)
        if stats is None:
            return SnapshotReady(snap, traced=traced)
        # Only what the pane draws: flat out, every reader's stream cost
        # measured since reset (the one in force among them); paced, the
        # kick and the wake-up.  Either way beside the userspace exit's.
        key = (stats.spec.bus, stats.baseline_width)
        paced = snap.pace_us is not None
        return SnapshotReady(
            snap,
            selected=stats.id,
            histogram=lab.registration_histogram(stats.id) if paced else [],
            baseline_histogram=lab.baseline_histogram(*key),
            reader_histograms={} if paced else lab.reader_histograms(stats.id),
            wake_histogram=lab.wake_histogram(stats.id) if paced else [],
            traced=traced,
        )

    def _traced_poll(self) -> dict[str, str] | None:
        """Read the witness's buffers between checkpoints; its last verdicts."""
        if self.traced is None:
            return None
        self.traced.poll()
        return self.traced.cells

    def _traced_checkpoint(self, lab: LabPort) -> dict[str, str] | None:
        """Take the checkpoint; with the witness, judge its window while the guest is parked."""
        witness = self.traced
        if witness is None:
            lab.checkpoint()
            return None
        # One hold of the lab's lock from pause to resume (the real Lab's `paused()`):
        # no other call may resume the guest while the trace is read to its end.
        with lab.paused():  # type: ignore[attr-defined]
            return witness.at_checkpoint(lab.checkpoint())

    def call(self, action: str, run: EngineCall, *, exclusive: bool = False) -> None:
        """Run one engine call in a worker; report `EngineDone` or `EngineFailed`.

        Args:
            action: what the call does, as a failure says it ("removing #3").
            run: the call itself, given the lab under the engine lock.
            exclusive: cancel the engine calls still waiting (a VM rebuild).
        """
        if self._app is None:
            return
        self._app.run_worker(
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
            # Under the lock: no reading is being written. The app is going:
            # a failing last write has nowhere to be shown, and every frame
            # before it is already on disk.
            with suppress(RecordWriteError):
                self.recording.stop()
            if self.traced is not None:
                self.traced.close()

    # ---------------------------------------------------------- engine calls

    def add(
        self,
        spec: RegistrationSpec | ZoneSpec,
        completion: str | None = None,
        vcpus: tuple[int, int] = (0, 0),
    ) -> None:
        """Register an ioeventfd (with a completion: "msi" or "pin", kicked by vCPU
        vcpus[0] and taken by vCPU vcpus[1]) or a coalesced zone; a refusal is an
        outcome (the form says)."""
        if isinstance(spec, ZoneSpec):
            self.call(f"registering {spec.describe()}", partial(calls.add_zone, spec=spec))
            return
        self.call(
            f"registering {spec.describe()}",
            partial(calls.add_registration, spec=spec, completion=completion, vcpus=vcpus),
        )

    def remove_zone(self, zone_id: int) -> None:
        """Drain the coalesced ring and unregister zone `zone_id`."""
        self.call(f"removing coalesced z{zone_id}", partial(calls.remove_zone, zone_id=zone_id))

    def remove(self, reg_id: int) -> None:
        """Deassign `reg_id`; it stays in `removing` until the view calls `removed`."""
        if reg_id in self._removing:
            return
        self._removing.add(reg_id)

        def run(lab: LabPort) -> Outcome:
            try:
                return calls.remove_registration(lab, reg_id)
            except BaseException:
                # A plain set, no widget: discard is atomic under the GIL.
                self._removing.discard(reg_id)
                raise

        self.call(f"removing #{reg_id}", run)

    def removed(self, reg_id: int) -> None:
        """The view no longer shows `reg_id`: its removal is over (on the event loop)."""
        self._removing.discard(reg_id)

    def pause(self) -> None:
        """Park the guest at a quiescent point."""
        self.call("pausing the guest", calls.pause)

    def resume(self) -> None:
        """Let the guest ring again."""
        self.call("resuming the guest", calls.resume)

    def reset(self) -> None:
        """Zero every count and histogram."""
        self.call("resetting the counters", calls.reset)

    def cycle_reader(self) -> None:
        """The next reader mode (none → poll → epoll → none)."""
        self.call("switching the eventfd reader", calls.next_reader)

    def cycle_drain(self) -> None:
        """The coalesced ring's other drain (at exits ↔ by a thread)."""
        self.call("switching the coalesced ring's drain", calls.next_drain)

    def toggle_pinning(self) -> None:
        """Pin the vCPU thread(s) and the reader to separate CPUs, or unpin."""

        def run(lab: LabPort) -> Outcome:
            outcome = calls.toggle_pinning(lab)
            self.pin = lab.pinning is not None  # kept across a VM rebuild
            return outcome

        self.call("pinning the threads", run)

    def toggle_pace(self) -> None:
        """Pace the plan (wake-up latency), or ring flat out again."""
        self.call("pacing the ring plan", calls.toggle_pace)

    def set_plan(self, plan: list[SlotSpec]) -> None:
        """Apply a plan; a rejected one leaves the plan the guest rang before."""
        self.call("applying the ring plan", partial(calls.set_plan, plan=plan))

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

    def hold_for_sweep(self, what: str = "sweep") -> tuple[str, bool]:
        """Pause the live guest for a sweep, or whatever `what` runs on its own VM (the
        round trip), blocking: that run's worker thread.

        Returns what the screen should say, and whether this paused it
        (only then is it resumed afterwards: a guest the user paused stays so).
        """
        with self._engine() as lab:
            if lab is None:
                return f"No live guest is running: the {what} has the CPUs to itself.", False
            if lab.state != "running":
                return "The live guest was already paused; it stays paused.", False
            try:
                exact = lab.pause()
            except EngineError as err:
                return f"The live guest could not be paused ({err}): figures may be noisy.", False
        self._post(EngineDone(GuestPaused(exact)))
        return (
            f"The live guest is paused for the {what}, so the two VMs do not compete for the "
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
        if self._app is not None:
            self._app.post_message(message)

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
            registrations = self._setup(lab)
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
        if self._trace_self and self.traced is None:
            self.traced = TracedWitness.open()
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
                    # Posted under the engine lock, as `_run` posts its reports:
                    # no call (a reset) can land between this reading and its
                    # report, so the view never shows pre-reset counts after one.
                    with self._engine() as lab:
                        message = None if lab is None else self._take(lab, due)
                        if message is not None:
                            self._post(message)
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
                self._stop.wait(self.refresh_interval)
        finally:
            self._poller_done.set()

    def _rebuild(self, vcpus: int, old: LabPort) -> Outcome:
        """Replace the lab with one of `vcpus` vCPUs (under the engine lock, in `_run`:
        the poller waits meanwhile)."""
        new = self._lab_factory(vcpus)  # when this fails, the old lab rings on
        # A removal this rebuild cancelled before it ran never reports.
        self._removing.clear()
        self.lab = None  # closed by what follows, whatever happens
        changed = calls.take_over(new, old)
        self.lab = new
        self.vcpus = vcpus
        return changed
