"""The iofdtui app: add and remove doorbells while the guest rings, and watch.

The app owns one lab.  Every engine call runs in a thread worker; the event
loop only reads the immutable `Snapshot`s the poller worker posts, and turns
the workers' typed messages (`ui/messages.py`) into widget updates.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.containers import Grid
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.errors import EngineError, RegistrationRejected
from iofdtui.engine.model import RegistrationSpec, SlotSpec, SpecError, format_addr
from iofdtui.engine.snapshot import READERS, RegistrationStats, Snapshot
from iofdtui.ui.commands import IofdCommands
from iofdtui.ui.lab_port import LabFactory, LabPort
from iofdtui.ui.messages import (
    CountersReset,
    EngineFailed,
    GuestPaused,
    GuestResumed,
    Histogram,
    LabFailed,
    LabStarted,
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
from iofdtui.ui.scale_sweep import KvmSweep, SweepPort
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.help import HelpScreen
from iofdtui.ui.screens.ring_plan import RingPlanScreen
from iofdtui.ui.screens.scale_plot import ScalePlotScreen
from iofdtui.ui.screens.startup_error import StartupErrorScreen
from iofdtui.ui.widgets.doorbells_table import DoorbellsTable
from iofdtui.ui.widgets.event_log import EventLog
from iofdtui.ui.widgets.lab_header import LabHeader
from iofdtui.ui.widgets.registration_detail import DetailHistograms, RegistrationDetail
from iofdtui.ui.widgets.registrations_table import (
    COLUMN_SORT,
    SORT_KEYS,
    RegistrationsTable,
    sample_note,
)

EXIT_NO_VM = 2
"""Exit status when the test VM cannot start (the same as `iofdtui bench`)."""

REFRESH_INTERVALS: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
"""What `s` cycles through, in seconds."""

CHECKPOINT_EVERY_S = 1.0
"""How often the poller parks the guest briefly for the exact conservation check."""

HISTORY_S = 60.0
"""How much signals/s history the detail sparkline keeps."""

_ENGINE_ACTIONS = frozenset(
    {
        "add",
        "remove",
        "edit_plan",
        "pause",
        "resume",
        "reset",
        "cycle_reader",
        "toggle_pinning",
        "toggle_pace",
        "toggle_vcpus",
    }
)

PACE_US = 100.0
"""The period `w` paces the plan at: one ring per visit, a wake-up per ring."""

READER_MODELS: dict[str, str] = {
    "none": "nobody waits on the eventfds; counts drained at each reading (pci-testdev)",
    "poll": "a thread busy-polls the eventfds (vhost busy-poll, SPDK)",
    "epoll": "a device thread sleeps in epoll_wait (QEMU iothreads, vhost by default)",
}
"""What each reader mode models, as the event log says it."""


def _open_real_lab(vcpus: int = 1) -> LabPort:
    # Imported here so building the app (e.g. in layout tests) never loads
    # the native engine unless the real lab is asked for.
    from iofdtui.engine.lab import open_lab

    return open_lab(vcpus)


def _apply_plan(lab: LabPort, plan: Sequence[SlotSpec]) -> None:
    """Every vCPU rings the same plan (so two vCPUs share each eventfd)."""
    if lab.vcpus > 1:
        lab.set_plans([plan] * lab.vcpus)
    else:
        lab.set_plan(plan)


def one_line(err: BaseException) -> str:
    """An exception as one line: the engine's own message, or the type and its text."""
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(err, (OSError, SpecError, ValueError)) and text:
        return text
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def baseline_width(stats: RegistrationStats, snapshot: Snapshot) -> int:
    """The width whose userspace-exit path is this registration's baseline.

    An any-length registration (width 0) is compared with the width the
    guest actually writes at that doorbell.
    """
    spec = stats.spec
    if spec.width:
        return spec.width
    for slot in snapshot.slots:
        if (slot.spec.bus, slot.spec.addr) == (spec.bus, spec.addr):
            return slot.spec.width
    return 0


class IofdApp(App[int]):
    """Watch KVM ioeventfd doorbells live, beside the userspace-exit baseline."""

    CSS_PATH = "app.tcss"
    TITLE = "iofdtui"
    COMMANDS = App.COMMANDS | {IofdCommands}
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (150, "-wide")]
    TINY_WIDTH = 80
    """Under this many columns the app has the `-tiny` class: one line of keys, no footer."""

    # Keys follow kvm_stat where it has one (q, r, f, o, s, h/?).
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: the app itself opens the form, so the keys typed right after
        # `a` wait for it instead of reaching the table (check_action keeps `a`
        # out of every other screen).
        Binding("a", "add", "Add", tooltip="Register an ioeventfd on a doorbell.", priority=True),
        Binding("d", "remove", "Del", tooltip="Deassign the selected registration."),
        Binding("delete", "remove", "Remove", show=False),
        Binding("e", "edit_plan", "Plan", tooltip="Edit which doorbells the guest rings."),
        Binding("p", "pause", "Pause", tooltip="Park the guest; the counts become exact."),
        Binding("p", "resume", "Resume", tooltip="Let the guest ring again."),
        Binding("r", "reset", "Reset", tooltip="Zero every count and histogram."),
        Binding(
            "s",
            "cycle_interval",
            "Rate",
            show=False,  # made room for x (Scale) in an 80-column footer; palette and help list it
            tooltip="Cycle the refresh interval.",
        ),
        Binding(
            "c",
            "cycle_reader",
            "Reader",
            tooltip="Cycle the eventfd reader: none → poll → epoll (a sleeping device thread).",
        ),
        Binding(
            "w",
            "toggle_pace",
            "Wake",
            show=False,  # footer full at 80 columns; palette and help list it
            tooltip="Pace the plan (one ring every 100 µs) to measure wake-up latency.",
        ),
        Binding(
            "v",
            "toggle_vcpus",
            "vCPUs",
            show=False,
            tooltip="Restart the VM with one or two vCPUs ringing the same plan.",
        ),
        Binding("f", "filter", "Filter", tooltip="Filter registrations by address."),
        Binding(
            "o",
            "sort",
            "Sort",
            show=False,  # made room for c (Reader); a click on a column header sorts too
            tooltip="Cycle the sort order of registrations.",
        ),
        Binding(
            "x",
            "scale_plot",
            "Scale",
            tooltip="Measure and plot ring cost against registrations on the bus.",
        ),
        Binding(
            "S",
            "screenshot",
            "SVG",
            show=False,  # made room for c (Reader); palette and help list it
            tooltip="Save an SVG to screenshots/.",
        ),
        Binding("ctrl+s", "screenshot", "Screenshot", show=False),
        Binding("h", "help", "Help", tooltip="What ioeventfd is; how to read the columns."),
        Binding("question_mark", "help", "Help", show=False),
        Binding("q", "quit", "Quit", tooltip="Stop the VM, close every fd, leave."),
    ]

    guest_state: reactive[str] = reactive("starting", bindings=True)
    """The guest's state from the last snapshot; picks Pause or Resume for `p`."""

    refresh_interval: reactive[float] = reactive(REFRESH_INTERVALS[0])
    """Seconds between snapshots (signals/s is over this interval)."""

    sort_key: reactive[str] = reactive("id")
    """The registrations table's order."""

    filter_text: reactive[str] = reactive("")
    """Address fragment the registrations table is filtered by."""

    def __init__(
        self,
        lab_factory: LabFactory = _open_real_lab,
        *,
        refresh_interval: float = REFRESH_INTERVALS[0],
        checkpoint_every: float = CHECKPOINT_EVERY_S,
        clock: Callable[[], datetime] = datetime.now,
        screenshot_dir: Path | str = "screenshots",
        scale_sweep: SweepPort | None = None,
        vcpus: int = 1,
        pin: bool = False,
    ) -> None:
        """Build the app around a lab factory.

        Args:
            lab_factory: builds the lab (in a worker); may raise `KvmUnavailable`.
            refresh_interval: seconds between snapshots.
            checkpoint_every: seconds between exact checkpoints (brief pauses).
            clock: time of day for the event log (fixed in layout tests).
            screenshot_dir: where `S` saves SVG screenshots.
            scale_sweep: what `x` measures; the real sweep on /dev/kvm when None.
            vcpus: vCPUs the VM starts with (`v` switches between one and two).
            pin: pin the vCPU thread(s) to one CPU and the reader and UI to another.
        """
        super().__init__()
        self._lab_factory = lab_factory
        self._vcpus = vcpus
        self._pin = pin
        self._checkpoint_every = checkpoint_every
        self._clock = clock
        self._screenshot_dir = Path(screenshot_dir)
        self._removing: set[int] = set()  # ids whose removal is in flight
        self._scale_sweep: SweepPort = scale_sweep or KvmSweep()
        self.set_reactive(IofdApp.refresh_interval, refresh_interval)
        self.lab: LabPort | None = None
        """The running lab, once the start worker has built it."""
        self.snapshot: Snapshot | None = None
        """The last snapshot shown."""
        self.startup_error: str | None = None
        """Why the VM could not start, if it could not."""
        # One lock orders every engine call made by workers against close(),
        # so nothing reaches a lab that has been torn down.
        self._engine_lock = threading.Lock()
        self._closing = False
        self._stop = threading.Event()
        self._poller_done = threading.Event()
        self._poller_done.set()
        self._selected: int | None = None
        self._histograms: tuple[int | None, Histogram, Histogram] = (None, [], [])
        self._reader_histograms: dict[str, Histogram] = {}
        self._wake_histogram: Histogram = []
        self._rates: dict[int, deque[tuple[float, float]]] = {}
        self._last_state = "starting"
        self._broken: set[tuple[object, int]] = set()

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        """Header, the two tables, the detail pane and the event log, the footer."""
        yield LabHeader(id="header")
        # One grid, re-spanned by app.tcss per terminal width (the -narrow and
        # -wide breakpoint classes), so the same widgets fill 80x24 or 250x70.
        with Grid(id="body"):
            yield RegistrationsTable(id="registrations")
            yield DoorbellsTable(id="doorbells")
            yield EventLog(id="log")
            yield RegistrationDetail(id="detail")
        # The palette hint would push q and h off an 80-column footer; ctrl+p
        # still opens it, and the help screen says so.
        yield Footer(compact=True, show_command_palette=False, id="keys")
        # Under 80 columns the footer would lose its last keys (q and h among
        # them): app.tcss shows this line in its place instead.
        yield Static("[b]q[/b] quit · [b]h[/b] help · [b]ctrl+p[/b] every command", id="tiny-keys")

    def on_resize(self, event: events.Resize) -> None:
        """Below 80 columns, swap the footer for the line that keeps q and h in view."""
        self.set_class(event.size.width < self.TINY_WIDTH, "-tiny")

    def on_mount(self) -> None:
        """Title the panels and start the VM in the background."""
        self.set_class(self.size.width < self.TINY_WIDTH, "-tiny")
        self.query_one("#registrations").border_title = "Registrations"
        self.query_one("#doorbells").border_title = "Doorbells"
        self.query_one("#detail").border_title = "Selected registration"
        self.query_one("#log").border_title = "Events"
        self.log_event("starting the test VM")
        self._start_lab()

    def log_event(self, text: str, severity: str = "information") -> None:
        """Add a timed line to the event log."""
        try:
            log = self.query_one(EventLog)
        except NoMatches:
            return  # a worker's report that arrives while the app tears its screens down
        log.record(self._clock(), text, severity)

    # ---------------------------------------------------------------- workers

    @contextmanager
    def _engine(self) -> Iterator[LabPort | None]:
        """The lab, held against teardown for the duration of one engine call."""
        with self._engine_lock:
            yield None if self._closing else self.lab

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _start_lab(self) -> None:
        """Build the lab, apply the demo, start the guest (blocking: a worker)."""
        try:
            lab = self._lab_factory(self._vcpus)
        except OSError as err:
            # KvmUnavailable's str() is already one line with the cause and the fix.
            self.post_message(LabFailed(str(err)))
            return
        try:
            _apply_plan(lab, demo_plan())
            for spec in demo_registrations():
                lab.add_registration(spec)
            lab.start()
            registrations = lab.registrations()
        except (OSError, SpecError, ValueError) as err:
            # EngineError is an OSError; a bare one (a thread or mmap the
            # kernel refused) is just as fatal: close what was built, one line.
            lab.close()
            self.post_message(LabFailed(f"the demo could not start: {one_line(err)}"))
            return
        pin_note = None
        if self._pin:
            try:
                lab.set_pinning(True)
            except (OSError, ValueError) as err:
                pin_note = one_line(err)
        with self._engine_lock:
            if self._closing:
                lab.close()
                return
            self.lab = lab
        self.post_message(LabStarted(lab.machine, registrations))
        if self._pin:
            self.post_message(PinningChanged(lab.pinning, refused=pin_note))

    @work(thread=True, exclusive=True, exit_on_error=False, group="poll")
    def _poll(self) -> None:
        """Read a snapshot every refresh interval; take a checkpoint every second.

        This is the only caller of `snapshot()`, so its rates are over exactly
        the interval between two of these readings.
        """
        self._poller_done.clear()
        try:
            next_checkpoint = 0.0
            last_failure = None
            while not self._stop.is_set():
                try:
                    message = self._read(next_checkpoint)
                except Exception as err:  # the poller must outlive any reading
                    # An engine error, or a bug: either way the header must not
                    # freeze.  Say it once (not at every reading), then retry.
                    failure = one_line(err)
                    if failure != last_failure:
                        self.post_message(EngineFailed("reading the counters", failure))
                    last_failure = failure
                    self._stop.wait(max(1.0, self.refresh_interval))
                    continue
                last_failure = None
                if message is None:
                    return
                if time.monotonic() >= next_checkpoint:
                    next_checkpoint = time.monotonic() + self._checkpoint_every
                self.post_message(message)
                self._stop.wait(self.refresh_interval)
        finally:
            self._poller_done.set()

    def _read(self, next_checkpoint: float) -> SnapshotReady | None:
        """One reading (in the poller thread); None once the lab is gone."""
        with self._engine() as lab:
            if lab is None:
                return None
            if time.monotonic() >= next_checkpoint:
                lab.checkpoint()
            snap = lab.snapshot()
            selected = self._selected
            stats = next((r for r in snap.registrations if r.id == selected), None)
            if stats is None:
                return SnapshotReady(snap)
            # Only what the pane draws: flat out, every reader's stream cost
            # measured since reset (the one in force among them); paced, the
            # kick and the wake-up.  Either way beside the userspace exit's.
            key = (stats.spec.bus, baseline_width(stats, snap))
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

    @work(thread=True, exit_on_error=False, group="engine")
    def _add(self, spec: RegistrationSpec) -> None:
        with self._engine() as lab:
            if lab is None:
                return
            try:
                reg_id = lab.add_registration(spec)
            except RegistrationRejected as err:
                self.post_message(RegistrationRefused(spec, str(err), err.field))
            except EngineError as err:
                self.post_message(RegistrationRefused(spec, str(err), None))
            else:
                self.post_message(RegistrationAdded(reg_id, spec))

    @work(thread=True, exit_on_error=False, group="engine")
    def _remove(self, reg_id: int) -> None:
        with self._engine() as lab:
            if lab is None:
                return
            try:
                final = lab.remove_registration(reg_id)
            except EngineError as err:
                self.post_message(EngineFailed(f"removing #{reg_id}", str(err)))
            else:
                self.post_message(RegistrationRemoved(final))
            finally:
                # A plain set, no widget: discard is atomic under the GIL.
                self._removing.discard(reg_id)

    @work(thread=True, exit_on_error=False, group="engine")
    def _pause(self) -> None:
        with self._engine() as lab:
            if lab is None or lab.state == "paused":
                return  # a repeated `p` that found it paused already: nothing changed
            try:
                exact = lab.pause()
            except EngineError as err:
                self.post_message(EngineFailed("pausing the guest", str(err)))
            else:
                self.post_message(GuestPaused(exact))

    @work(thread=True, exit_on_error=False, group="engine")
    def _resume(self) -> None:
        with self._engine() as lab:
            if lab is None or lab.state != "paused":
                return  # a repeated `p` that found it running already: nothing changed
            try:
                lab.resume()
            except EngineError as err:
                self.post_message(EngineFailed("resuming the guest", str(err)))
            else:
                self.post_message(GuestResumed())

    @work(thread=True, exit_on_error=False, group="engine")
    def _reset(self) -> None:
        with self._engine() as lab:
            if lab is None:
                return
            try:
                lab.reset_counters()
            except EngineError as err:
                self.post_message(EngineFailed("resetting the counters", str(err)))
            else:
                self.post_message(CountersReset())

    @work(thread=True, exit_on_error=False, group="engine")
    def _cycle_reader(self) -> None:
        """The next reader mode in `READERS` (none → poll → epoll → none)."""
        with self._engine() as lab:
            if lab is None:
                return
            current = lab.reader
            mode = READERS[(READERS.index(current) + 1) % len(READERS)]
            try:
                lab.set_reader(mode)
            except (OSError, ValueError) as err:
                self.post_message(EngineFailed("switching the eventfd reader", one_line(err)))
            else:
                self.post_message(ReaderChanged(mode))

    @work(thread=True, exit_on_error=False, group="engine")
    def _toggle_pinning(self) -> None:
        with self._engine() as lab:
            if lab is None:
                return
            want = lab.pinning is None
            try:
                lab.set_pinning(want)
            except (OSError, ValueError) as err:
                self.post_message(PinningChanged(lab.pinning, refused=one_line(err)))
            else:
                self._pin = want
                self.post_message(PinningChanged(lab.pinning))

    @work(thread=True, exit_on_error=False, group="engine")
    def _toggle_pace(self) -> None:
        with self._engine() as lab:
            if lab is None:
                return
            pace = None if lab.pace_us else PACE_US
            try:
                lab.set_pace(pace)
                lab.reset_counters()  # wake-up figures from one mode only
            except (OSError, ValueError) as err:
                self.post_message(EngineFailed("pacing the ring plan", one_line(err)))
            else:
                self.post_message(PaceChanged(pace))

    @work(thread=True, exclusive=True, exit_on_error=False, group="engine")
    def _switch_vcpus(self) -> None:
        """A new VM with the other vCPU count, the same plan and registrations.

        vCPUs cannot be added to a running VM's accounting, so the lab is
        rebuilt; the poller waits on the engine lock meanwhile.
        """
        with self._engine_lock:
            old = self.lab
            if old is None or self._closing:
                return
            vcpus = 1 if old.vcpus > 1 else 2
            specs, plan, reader = old.registrations(), old.plan(), old.reader
            pinned, paced = old.pinning is not None, old.pace_us is not None
            try:
                new = self._lab_factory(vcpus)
            except OSError as err:
                self.post_message(EngineFailed(f"starting a VM with {vcpus} vCPUs", str(err)))
                return
            try:
                old.close()
                _apply_plan(new, plan)
                renumbered = {
                    old_id: new.add_registration(spec) for old_id, spec in sorted(specs.items())
                }
                new.set_reader(reader)
                new.start()
            except (OSError, SpecError, ValueError) as err:
                new.close()
                self.lab = None
                self.post_message(EngineFailed(f"starting a VM with {vcpus} vCPUs", one_line(err)))
                return
            if pinned:
                # The same machine allowed it a moment ago; the header tells if not.
                with suppress(OSError, ValueError):
                    new.set_pinning(True)
            self.lab = new
            self._vcpus = vcpus
            registrations = new.registrations()
        # Paced mode runs on one vCPU: a paced one-vCPU lab comes back flat out.
        self.post_message(
            VcpusChanged(vcpus, registrations, renumbered, pace_dropped=paced and vcpus > 1)
        )

    @work(thread=True, exit_on_error=False, group="engine")
    def _set_plan(self, plan: list[SlotSpec]) -> None:
        """Apply a plan; a rejected one leaves the plan the guest rang before."""
        with self._engine() as lab:
            if lab is None:
                return
            before = lab.plan()
            try:
                for slot in plan:
                    slot.validate()
                _apply_plan(lab, plan)
            except Exception as err:  # whatever refused it, keep a plan
                try:
                    if lab.plan() != before:
                        _apply_plan(lab, before)
                except Exception as again:
                    self.post_message(EngineFailed("restoring the ring plan", one_line(again)))
                self.post_message(PlanRejected(one_line(err)))
            else:
                self.post_message(PlanChanged(plan))

    def _shutdown_lab(self) -> None:
        """Blocking teardown; safe to call twice."""
        self._stop.set()
        self._poller_done.wait(timeout=5.0)
        with self._engine_lock:
            self._closing = True
            lab, self.lab = self.lab, None
            if lab is not None:
                lab.close()

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        # The workers catch the engine's own errors; anything else still gets
        # one readable line, never a traceback.
        if event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"{event.worker.name}: {error}", title="Unexpected error", severity="error")
            self.log_event(f"unexpected error in {event.worker.name}: {error}", "error")

    # ------------------------------------------------------- engine messages

    @on(LabStarted)
    def _lab_started(self, event: LabStarted) -> None:
        m = event.machine
        self.log_event(f"VM up: {m.kvm_module or 'kvm'} on {m.kernel}, TSC {m.tsc_khz:,} kHz")
        if m.emulated:
            self.log_event(m.emulation_note, "warning")
        for reg_id, spec in sorted(event.registrations.items()):
            self.log_event(f"registered #{reg_id} {spec.describe()} (demo)")
        # Everything built so far lives as long as the app: keep it out of the
        # collector's full passes, and make those rarer (each stalls a frame by
        # ~60 ms with 1,000 registrations listed; nearly all our garbage is
        # acyclic and freed by reference counting anyway).
        gc.freeze()
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, 100)
        self._poll()

    @on(LabFailed)
    def _lab_failed(self, event: LabFailed) -> None:
        self.startup_error = event.message
        self.guest_state = "unavailable"
        self.query_one(LabHeader).starting_note = "the test VM could not start"
        self.log_event(f"start-up failed: {event.message}", "error")
        self.push_screen(StartupErrorScreen(event.message))

    @on(SnapshotReady)
    def _snapshot_ready(self, event: SnapshotReady) -> None:
        try:
            header = self.query_one(LabHeader)
        except NoMatches:
            return  # a reading that arrived while the app tears its screen down at quit
        snap = event.snapshot
        self.snapshot = snap
        if event.selected is not None:
            self._histograms = (event.selected, event.histogram, event.baseline_histogram)
            self._reader_histograms = event.reader_histograms
            self._wake_histogram = event.wake_histogram
        live = {r.id for r in snap.registrations}
        for reg in snap.registrations:
            history = self._rates.setdefault(reg.id, deque())
            if reg.signals_per_s is not None:
                history.append((snap.taken_at, reg.signals_per_s))
            while history and history[0][0] < snap.taken_at - HISTORY_S:
                history.popleft()
        for gone in set(self._rates) - live:
            del self._rates[gone]
        self.guest_state = snap.state
        header.snapshot = snap
        self._report_broken_conservation(snap)
        self._show_tables()

    def _report_broken_conservation(self, snap: Snapshot) -> None:
        """Say once, loudly, when a doorbell's live bracket breaks (a count lost or invented)."""
        broken = {(d.bus, d.addr): d for d in snap.doorbells if not d.live_ok}
        for key, door in broken.items():
            if key not in self._broken:
                where = f"{door.bus.value} {format_addr(door.bus, door.addr)}"
                text = (
                    f"conservation broken at {where}: rings {door.rings:,}, signals "
                    f"{door.signals:,} + exits {door.exits:,} ({door.in_flight:+,})"
                )
                self.log_event(text, "error")
                self.notify(text, title="Conservation broken", severity="error")
        self._broken = set(broken)

    def _show_tables(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        self._show_registrations()
        doors = self.query_one(DoorbellsTable)
        doors.show(snap.doorbells, snap.slots, snap.checkpoint)
        doors.border_subtitle = self._check_summary(snap)

    def _show_registrations(self) -> None:
        """The registrations table alone: all a sort or a filter changes."""
        snap = self.snapshot
        if snap is None:
            return
        table = self.query_one(RegistrationsTable)
        paced = snap.pace_us is not None
        table.show(snap.registrations, self.filter_text, self.sort_key, paced)
        interval = "—" if snap.interval_s is None else f"{snap.interval_s:.2f} s"
        table.border_title = f"Registrations · sig/s over {interval} · {sample_note(paced)}"
        notes = [f"ratio: base50/p50, reader {snap.consumer}", f"sort: {self.sort_key}"]
        if self.filter_text:
            shown = table.row_count
            notes.append(f"filter '{self.filter_text}': {shown} of {len(snap.registrations)}")
        table.border_subtitle = " · ".join(notes)
        self._selected = table.selected_id
        self._show_detail()

    @staticmethod
    def _check_summary(snap: Snapshot) -> str:
        cp = snap.checkpoint
        if cp is None:
            return "check rings = signals + exits: waiting for the first checkpoint"
        verdict = "✓ all balance" if cp.conserved else "✗ MISMATCH"
        exact = "exact" if cp.exact else "guest kicked, ±1 in flight"
        return f"check rings = signals + exits at checkpoint #{cp.number} ({exact}): {verdict}"

    def _show_detail(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        stats = next((r for r in snap.registrations if r.id == self._selected), None)
        hist_id, hist, base = self._histograms
        by_reader, wake = self._reader_histograms, self._wake_histogram
        if stats is None or hist_id != stats.id:
            hist, base, by_reader, wake = [], [], {}, []
        rates = [rate for _, rate in self._rates.get(stats.id, ())] if stats else []
        self.query_one(RegistrationDetail).show(
            stats,
            rates,
            HISTORY_S,
            DetailHistograms(hist, base, by_reader, wake),
            snap,
        )

    @on(DataTable.RowHighlighted, "#registrations")
    def _row_highlighted(self) -> None:
        try:
            self._selected = self.query_one(RegistrationsTable).selected_id
        except NoMatches:
            return  # a highlight that arrived while the app tears its screen down
        self._show_detail()

    @on(DataTable.HeaderSelected, "#registrations")
    def _header_clicked(self, event: DataTable.HeaderSelected) -> None:
        """A click on a column's header sorts by that column, where it can."""
        key = COLUMN_SORT.get(str(event.column_key.value))
        if key is None:
            self.notify(
                "Sortable columns: #, address, signals, sig/s, p50, ratio.", severity="warning"
            )
            return
        self.sort_key = key

    def watch_guest_state(self, state: str) -> None:
        """Log a fault the moment it is seen; the header shows the state."""
        if state == "faulted" and self._last_state != "faulted":
            fault = self.snapshot.fault if self.snapshot else None
            self.log_event(f"guest faulted: {fault or 'no detail'}", "error")
            self.notify(fault or "the guest faulted", title="Guest fault", severity="error")
        self._last_state = state

    @on(AddRegistrationScreen.Submitted)
    def _add_submitted(self, event: AddRegistrationScreen.Submitted) -> None:
        self._add(event.spec)

    @on(RegistrationAdded)
    def _registration_added(self, event: RegistrationAdded) -> None:
        self.log_event(f"registered #{event.reg_id} {event.spec.describe()}")
        if isinstance(self.screen, AddRegistrationScreen):
            self.screen.dismiss(event.reg_id)

    @on(RegistrationRefused)
    def _registration_refused(self, event: RegistrationRefused) -> None:
        self.log_event(f"rejected {event.spec.describe()}: {event.message}", "error")
        if isinstance(self.screen, AddRegistrationScreen):
            self.screen.show_rejection(event.message, event.field)
        else:
            self.notify(event.message, title="Registration rejected", severity="error")

    @on(RegistrationRemoved)
    def _registration_removed(self, event: RegistrationRemoved) -> None:
        final = event.final
        self.log_event(
            f"removed #{final.id} {final.spec.describe()}: {final.signals:,} signals in all"
        )

    @on(GuestPaused)
    def _guest_paused(self, event: GuestPaused) -> None:
        how = "at a quiescent point" if event.exact else "by a kick (a ring may be in flight)"
        self.log_event(f"guest paused {how}")
        # The next `p` resumes at once, not after the next reading.
        self.guest_state = "paused"

    @on(GuestResumed)
    def _guest_resumed(self) -> None:
        self.log_event("guest resumed")
        self.guest_state = "running"

    @on(CountersReset)
    def _counters_reset(self) -> None:
        self._rates.clear()
        self.log_event("counters reset")

    @on(ReaderChanged)
    def _reader_changed(self, event: ReaderChanged) -> None:
        model = READER_MODELS.get(event.mode, "")
        self.log_event(f"reader {event.mode}: {model}")

    @on(PinningChanged)
    def _pinning_changed(self, event: PinningChanged) -> None:
        if event.refused is not None:
            self.log_event(f"not pinned: {event.refused}", "warning")
            self.notify(event.refused, title="Pinning refused", severity="warning")
        elif event.pinning is None:
            self.log_event("pinning off: the scheduler places every thread")
        else:
            self.log_event(f"pinned: {event.pinning}")

    @on(PaceChanged)
    def _pace_changed(self, event: PaceChanged) -> None:
        if event.pace_us is None:
            self.log_event("ring plan flat out again (counters reset)")
        else:
            self.log_event(
                f"paced: one ring per visit, {event.pace_us:g} µs apart; wake-up latency and "
                "the cost of each single write (the kick) measured (counters reset)"
            )

    @on(VcpusChanged)
    def _vcpus_changed(self, event: VcpusChanged) -> None:
        self._rates.clear()
        moved = [f"#{old}→#{new}" for old, new in sorted(event.renumbered.items()) if old != new]
        ids = ", ".join(f"#{i}" for i in sorted(event.registrations)) or "none"
        numbering = f"renumbered {', '.join(moved)}" if moved else f"kept as {ids}"
        self.log_event(
            f"new VM with {event.vcpus} vCPU{'s' if event.vcpus > 1 else ''} ringing the same "
            f"plan; registrations made again, {numbering}; counters start at zero"
        )
        if event.pace_dropped:
            self.log_event("paced mode off: it runs on one vCPU (v back to one, then w)", "warning")

    @on(PlanChanged)
    def _plan_changed(self, event: PlanChanged) -> None:
        writes = ", ".join(slot.describe() for slot in event.plan) or "nothing"
        self.log_event(f"ring plan: {writes}")

    @on(PlanRejected)
    def _plan_rejected(self, event: PlanRejected) -> None:
        self.log_event(f"ring plan rejected: {event.message}; the old plan rings on", "error")
        self.notify(event.message, title="Ring plan rejected", severity="error")

    @on(EngineFailed)
    def _engine_failed(self, event: EngineFailed) -> None:
        self.log_event(f"{event.action} failed: {event.message}", "error")
        self.notify(event.message, title=f"{event.action.capitalize()} failed", severity="error")

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer engine actions only with a live lab, and one of Pause/Resume."""
        if action in _ENGINE_ACTIONS and (self.lab is None or self._closing):
            return False if action in ("pause", "resume") else None
        on_top = self.screen
        if (
            action == "add"
            and len(self.screen_stack) > 1
            and not isinstance(on_top, CommandPalette)
        ):
            return False  # a priority key: every other screen (a form, help) keeps its `a`
        if action == "pause":
            return self.guest_state == "running"
        if action == "resume":
            return self.guest_state == "paused"
        return True

    async def action_add(self) -> None:
        """Open the add-registration form.

        Awaiting the mount holds back the keys typed right after `a` until the
        form's address field has focus, so none of them is lost.
        """
        any_length = self.lab.any_length if self.lab is not None else True
        # From the snapshot, not the lab: lab.registrations() would take the
        # lab's lock on the UI thread.  A newer one is still caught by EEXIST.
        snap = self.snapshot
        existing = {r.id: r.spec for r in snap.registrations} if snap else {}
        form = AddRegistrationScreen(any_length=any_length, existing=existing)
        await self.push_screen(form)
        # The form focuses its address field from on_mount, which lands after
        # the keys already queued: give it focus now, synchronously.
        form.set_focus(form.query_one("#addr"))

    def action_remove(self) -> None:
        """Deassign the registration under the cursor."""
        reg_id = self.query_one(RegistrationsTable).selected_id
        if reg_id is None:
            self.notify("No registration is selected.", severity="warning")
            return
        if reg_id in self._removing:
            return  # a repeated d before the table has caught up: already on its way
        self._removing.add(reg_id)
        self._remove(reg_id)

    def action_edit_plan(self) -> None:
        """Open the ring-plan editor on the plan the guest rings now."""
        # Every vCPU rings the same plan: edit vCPU 0's (the others' slots repeat it).
        snap = self.snapshot
        plan = [slot.spec for slot in snap.slots if slot.vcpu == 0] if snap else demo_plan()

        def apply(result: list[SlotSpec] | None) -> None:
            if result is not None:
                self._set_plan(result)

        self.push_screen(RingPlanScreen(plan), apply)

    def action_pause(self) -> None:
        """Park the guest at a quiescent point."""
        self._pause()

    def action_resume(self) -> None:
        """Let the guest ring again."""
        self._resume()

    def action_reset(self) -> None:
        """Zero every count and histogram."""
        self._reset()

    def action_cycle_reader(self) -> None:
        """Cycle the eventfd reader: none → poll → epoll."""
        self._cycle_reader()

    def action_toggle_pinning(self) -> None:
        """Pin the vCPU thread(s) to one CPU and the reader and UI to another, or unpin."""
        self._toggle_pinning()

    def action_toggle_pace(self) -> None:
        """Pace the plan for wake-up latency, or ring flat out again."""
        paced = self.snapshot is not None and self.snapshot.pace_us is not None
        if not paced and self.lab is not None and self.lab.vcpus > 1:
            text = "paced mode runs on one vCPU: press v first"
            self.log_event(text, "warning")
            self.notify(text, title="Not paced", severity="warning")
            return
        self._toggle_pace()

    def action_toggle_vcpus(self) -> None:
        """Restart the VM with one or two vCPUs."""
        self.log_event("restarting the VM with another vCPU count…")
        self._switch_vcpus()

    def action_cycle_interval(self) -> None:
        """Step through the refresh intervals (kvm_stat's `s`)."""
        index = (
            REFRESH_INTERVALS.index(self.refresh_interval)
            if (self.refresh_interval in REFRESH_INTERVALS)
            else -1
        )
        self.refresh_interval = REFRESH_INTERVALS[(index + 1) % len(REFRESH_INTERVALS)]
        self.notify(f"Refreshing every {self.refresh_interval:g} s.")

    def action_filter(self) -> None:
        """Ask for an address fragment to filter registrations by."""

        def apply(result: str | None) -> None:
            if result is not None:
                self.filter_text = result

        self.push_screen(FilterPrompt(self.filter_text), apply)

    def action_sort(self) -> None:
        """Cycle the registrations' sort order."""
        index = SORT_KEYS.index(self.sort_key)
        self.sort_key = SORT_KEYS[(index + 1) % len(SORT_KEYS)]

    def watch_sort_key(self) -> None:
        """Re-show the last snapshot in the new order."""
        self._show_registrations()

    def watch_filter_text(self) -> None:
        """Re-show the last snapshot through the new filter."""
        self._show_registrations()

    def action_screenshot(self) -> None:
        """Save an SVG of the screen under screenshots/."""
        self._screenshot_dir.mkdir(parents=True, exist_ok=True)
        stamp = self._clock().strftime("%Y%m%d-%H%M%S")
        path = self.save_screenshot(f"iofdtui-{stamp}.svg", str(self._screenshot_dir))
        self.notify(f"Saved {path}", title="Screenshot")
        self.log_event(f"screenshot saved to {path}")

    def action_scale_plot(self) -> None:
        """Open the scale screen; it sweeps on its own VM while the live guest waits."""
        self.push_screen(
            ScalePlotScreen(
                self._scale_sweep,
                hold_live=self._hold_live_for_sweep,
                release_live=self._release_live_after_sweep,
            )
        )

    def _hold_live_for_sweep(self) -> tuple[str, bool]:
        """Pause the live guest for a sweep (in the sweep's worker thread).

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
        self.post_message(GuestPaused(exact))
        return (
            "The live guest is paused for the sweep, so the two VMs do not compete for the "
            f"{os.cpu_count() or 'few'} CPUs; it resumes when you close this screen.",
            True,
        )

    def _release_live_after_sweep(self) -> None:
        """Let the live guest ring again once the sweep is over and its screen closed."""
        if not self.is_running:
            return  # the app is quitting: the lab is about to be closed anyway
        with self._engine() as lab:
            if lab is None or lab.state != "paused":
                return
            try:
                lab.resume()
            except EngineError as err:
                self.post_message(EngineFailed("resuming the guest", str(err)))
                return
        self.post_message(GuestResumed())

    def action_help(self) -> None:
        """Explain ioeventfd and every column."""
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Leave; `on_unmount` tears the VM down."""
        if self.startup_error is not None:
            self.exit(EXIT_NO_VM, EXIT_NO_VM, message=f"iofdtui: {self.startup_error}")
        else:
            self.exit(0, 0)

    def on_unmount(self) -> None:
        """Whatever way the app ends, no VM, thread or fd outlives it.

        This is the one engine call made on the event loop: at unmount
        nothing is left to draw, and the close must finish before the process
        exits, so waiting for it here is the point.
        """
        self._shutdown_lab()


def make_app(lab_factory: LabFactory | None = None, **options: object) -> IofdApp:
    """Build the app; tests pass a fake lab factory and fixed options.

    Args:
        lab_factory: builds the lab; the real engine's when None.
        **options: keyword options of `IofdApp`.
    """
    return IofdApp(lab_factory or _open_real_lab, **options)  # type: ignore[arg-type]


def run_app(vcpus: int = 1, pin: bool = False) -> int:
    """Run the app in the terminal; returns the exit status (2: no VM).

    Args:
        vcpus: vCPUs ringing the plan (1 or 2).
        pin: pin the vCPU thread(s) to one CPU, the reader and the UI to another.
    """
    app = make_app(vcpus=vcpus, pin=pin)
    result = app.run()
    if result is not None:
        return int(result)
    return EXIT_NO_VM if app.startup_error else (app.return_code or 0)


__all__ = ["EXIT_NO_VM", "IofdApp", "make_app", "run_app"]
