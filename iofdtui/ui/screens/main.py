"""The main screen: the lab's view (header, tables, detail pane, event log, footer) and its keys.

It starts the app's `LabSession`, shows the readings its poller takes, turns
what the engine calls did into event-log lines and toasts (the app hands it
every report, `show_report`), and offers the lab's actions (bindings from
`ui/bindings.py`). Nothing here blocks: every engine call goes through the
session's worker.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Grid
from textual.content import Content
from textual.css.query import NoMatches
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static

from iofdtui.engine.demo import demo_plan
from iofdtui.engine.errors import EngineError, GuestFault
from iofdtui.engine.model import SlotSpec
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui import event_lines
from iofdtui.ui.bindings import NEEDS_LAB, bindings
from iofdtui.ui.conservation_text import BrokenBrackets, check_summary
from iofdtui.ui.messages import (
    CountersReset,
    EngineDone,
    EngineFailed,
    GuestPaused,
    GuestResumed,
    Histogram,
    LabFailed,
    LabStarted,
    PinningChanged,
    PlanRejected,
    RegistrationRefused,
    RegistrationRemoved,
    Report,
    SnapshotReady,
    VcpusChanged,
)
from iofdtui.ui.rate_history import RateHistory
from iofdtui.ui.roundtrip_port import KvmRoundTrip, RoundTripPort
from iofdtui.ui.scale_sweep import SweepPort
from iofdtui.ui.screens.add_registration import AddRegistrationScreen
from iofdtui.ui.screens.device_work import ask_device_work
from iofdtui.ui.screens.error_modal import ErrorModal
from iofdtui.ui.screens.filter_prompt import FilterPrompt
from iofdtui.ui.screens.ring_plan import RingPlanScreen
from iofdtui.ui.screens.roundtrip import RoundTripScreen
from iofdtui.ui.screens.scale_plot import ScalePlotScreen
from iofdtui.ui.screens.startup_error import StartupErrorScreen
from iofdtui.ui.session import LabSession
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
from iofdtui.ui.widgets.zones_table import ZonesTable

HISTORY_S = 60.0
"""How much signals/s history the detail sparkline keeps."""


class MainScreen(Screen[None]):
    """Watch KVM ioeventfd doorbells live, beside the userspace-exit baseline."""

    BINDINGS: ClassVar[list[BindingType]] = bindings("main")
    TINY_WIDTH = 80
    """Under this many columns the screen has the `-tiny` class: one line of keys, no footer."""
    STARTING = "starting the test VM"
    """The event log's first line, while the session builds its lab."""

    guest_state: reactive[str] = reactive("starting", bindings=True)
    """The guest's state from the last snapshot; picks Pause or Resume for `p`."""

    sort_key: reactive[str] = reactive("id")
    """The registrations table's order."""

    filter_text: reactive[str] = reactive("")
    """Address fragment the registrations table is filtered by."""

    def __init__(
        self,
        session: LabSession,
        *,
        clock: Callable[[], datetime] = datetime.now,
        scale_sweep: SweepPort,
        roundtrip: RoundTripPort | None = None,
    ) -> None:
        """The view of `session`'s lab.

        Args:
            session: the app's lab session; this screen starts it.
            clock: time of day for the event log (fixed in layout tests).
            scale_sweep: what `x` measures.
            roundtrip: what `i` measures; the real round trip on /dev/kvm when None.
        """
        super().__init__()
        self.session = session
        """The lab this screen shows and drives."""
        self.snapshot: Snapshot | None = None
        """The last snapshot shown."""
        self._clock = clock
        self._scale_sweep = scale_sweep
        self._roundtrip = roundtrip or KvmRoundTrip()
        # The last reading that carried the selected registration's histograms.
        self._detail: SnapshotReady | None = None
        self._traced: dict[str, str] | None = None  # the tracepoints' verdicts, if traced
        self._rates = RateHistory(HISTORY_S)
        self._last_state = "starting"
        self._brackets = BrokenBrackets()

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
        self.set_class(self.app.size.width < self.TINY_WIDTH, "-tiny")
        self.query_one("#registrations").border_title = "Registrations"
        self.query_one("#doorbells").border_title = "Doorbells"
        self.query_one("#detail").border_title = "Selected registration"
        self.query_one("#log").border_title = "Events"
        self.log_event(self.STARTING)
        self.session.start(self.app)

    def show_banner(self, banner: Content | None) -> None:
        """Keep `banner` as the header's last line (None: no such line)."""
        self.query_one(LabHeader).banner = banner

    def log_event(self, text: str, severity: str = "information") -> None:
        """Add a timed line to the event log."""
        try:
            log = self.query_one(EventLog)
        except NoMatches:
            return  # a worker's report that arrives while the app tears its screens down
        log.record(self._clock(), text, severity)
        self.session.recording.event(text, severity)

    # ------------------------------------------------- what the tests can see

    @property
    def selected_id(self) -> int | None:
        """The registration under the cursor (whose histograms the readings carry)."""
        return self.session.selected

    @property
    def reader_histograms(self) -> dict[str, Histogram]:
        """The selected registration's ring cost histogram under each reader measured."""
        return self._detail.reader_histograms if self._detail else {}

    # -------------------------------------------------------------- readings

    def show_report(self, report: Report) -> None:
        """Show what the session reported: a reading, the VM up or not, an engine call's end."""
        match report:
            case SnapshotReady():
                self.show_reading(report)
            case EngineDone():
                self._engine_done(report)
            case EngineFailed():
                self.log_event(f"{report.action} failed: {report.message}", "error")
                self.notify(report.message, title=report.title, severity="error")
            case LabStarted():
                for text, severity in event_lines.started(report.machine, report.registrations):
                    self.log_event(text, severity)
                self.session.poll()
            case LabFailed():
                self._lab_failed(report)

    def show_reading(self, event: SnapshotReady) -> None:
        """Show one reading: header, tables, detail pane, and a broken bracket's alarm."""
        try:
            header = self.query_one(LabHeader)
        except NoMatches:
            return  # a reading that arrived while the app tears its screen down at quit
        snap = event.snapshot
        self.snapshot = snap
        self._traced = event.traced
        if self.session.traced is not None:  # a doorbell's first ✗ from the kernel's witness
            for line in self.session.traced.new_mismatches():
                self.log_event(line, "warning")
        if event.selected is not None:
            self._detail = event
        self._rates.add(snap)
        self.guest_state = snap.state
        header.recording = self.session.recording.path
        header.snapshot = snap
        self._report_broken_conservation(snap)
        self._show_tables()

    def _report_broken_conservation(self, snap: Snapshot) -> None:
        """Say once, loudly, when a doorbell's live bracket breaks (a count lost or invented)."""
        for text in self._brackets.newly_broken(snap):
            self.log_event(text, "error")
            self.notify(text, title="Conservation broken", severity="error")

    def _show_tables(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        self._show_registrations()
        doors = self.query_one(DoorbellsTable)
        doors.show(snap.doorbells, snap.slots, snap.checkpoint, self._traced)
        doors.border_subtitle = check_summary(snap)
        self._show_zones(snap)

    def _show_zones(self, snap: Snapshot) -> None:
        """The coalesced zones' table, under the body, from the first zone on."""
        tables = self.query(ZonesTable)
        if not snap.zones and not tables:
            return
        if tables:
            tables.first().show(snap.zones, snap.ring)
            return
        table = ZonesTable(id="zones")
        self.mount(table, after="#body")
        table.call_after_refresh(table.show, snap.zones, snap.ring)

    def _show_registrations(self) -> None:
        """The registrations table alone: all a sort or a filter changes."""
        snap = self.snapshot
        if snap is None:
            return
        table = self.query_one(RegistrationsTable)
        paced = snap.pace_us is not None
        table.show(snap.registrations, snap.baselines, self.filter_text, self.sort_key, paced)
        interval = "—" if snap.interval_s is None else f"{snap.interval_s:.2f} s"
        table.border_title = f"Registrations · sig/s over {interval} · {sample_note(paced)}"
        notes = [f"ratio: base50/p50, reader {snap.consumer}", f"sort: {self.sort_key}"]
        if self.filter_text:
            shown = table.row_count
            notes.append(f"filter '{self.filter_text}': {shown} of {len(snap.registrations)}")
        table.border_subtitle = " · ".join(notes)
        self.session.selected = table.selected_id
        self._show_detail()

    def _show_detail(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        selected = self.session.selected
        stats = next((r for r in snap.registrations if r.id == selected), None)
        detail = self._detail
        histograms = DetailHistograms([], [], {}, [])
        if stats is not None and detail is not None and detail.selected == stats.id:
            histograms = DetailHistograms(
                detail.histogram,
                detail.baseline_histogram,
                detail.reader_histograms,
                detail.wake_histogram,
            )
        rates = self._rates.rates(stats.id) if stats else []
        self.query_one(RegistrationDetail).show(stats, rates, HISTORY_S, histograms, snap)

    @on(RegistrationsTable.RowHighlighted, "#registrations")
    def _row_highlighted(self) -> None:
        try:
            self.session.selected = self.query_one(RegistrationsTable).selected_id
        except NoMatches:
            return  # a highlight that arrived while the app tears its screen down
        self._show_detail()

    @on(RegistrationsTable.HeaderSelected, "#registrations")
    def _header_clicked(self, event: RegistrationsTable.HeaderSelected) -> None:
        """A click on a column's header sorts by that column, where it can."""
        key = COLUMN_SORT.get(event.column_key)
        if key is None:
            self.notify(
                "Sortable columns: #, address, signals, sig/s, p50, ratio.",
                title="Not sortable",
                severity="warning",
            )
            return
        self.sort_key = key

    def watch_guest_state(self, state: str) -> None:
        """A fault, the moment it is seen: one line, a toast, and the registers in a modal."""
        if state == "faulted" and self._last_state != "faulted":
            fault = self.snapshot.fault if self.snapshot else None
            self.log_event(f"guest faulted: {fault or 'no detail'}", "error")
            self.notify(fault or "the guest faulted", title=GuestFault.title, severity="error")
            self.app.push_screen(ErrorModal.guest_fault(fault))
        self._last_state = state

    def watch_sort_key(self) -> None:
        """Re-show the last snapshot in the new order."""
        self._show_registrations()

    def watch_filter_text(self) -> None:
        """Re-show the last snapshot through the new filter."""
        self._show_registrations()

    # ------------------------------------------------------- engine reports

    def _lab_failed(self, event: LabFailed) -> None:
        self.guest_state = "unavailable"
        self.query_one(LabHeader).starting_note = "the test VM could not start"
        self.log_event(f"start-up failed: {event.message}", "error")
        self.app.push_screen(StartupErrorScreen(event.message))

    def _engine_done(self, event: EngineDone) -> None:
        outcome = event.outcome
        for text, severity in event_lines.outcome_lines(outcome):
            self.log_event(text, severity)
        top = self.app.screen_stack[-1] if self.app.screen_stack else None  # none while quitting
        if isinstance(top, AddRegistrationScreen) and top.answer(outcome):
            return
        match outcome:
            case RegistrationRefused(_, message, _, title):
                self.notify(message, title=title, severity="error")
            case RegistrationRemoved(final):
                self._forget(final.id)
            case GuestPaused():
                self.guest_state = "paused"  # the next `p` resumes at once, not after a reading
            case GuestResumed():
                self.guest_state = "running"
            case CountersReset() | VcpusChanged():
                self._rates.clear()
            case PinningChanged(_, str(refused)):
                self.notify(refused, title="Pinning refused", severity="warning")
            case PlanRejected(message, restore_failed):
                if restore_failed is not None:
                    self.notify(
                        restore_failed, title="Restoring the ring plan failed", severity="error"
                    )
                self.notify(message, title="Ring plan rejected", severity="error")

    # ---------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer engine actions only with a live lab, and one of Pause/Resume."""
        if action in NEEDS_LAB and not self.session.ready:
            return False if action in ("pause", "resume") else None
        if action == "pause":
            return self.guest_state == "running"
        if action == "resume":
            return self.guest_state == "paused"
        return True

    async def action_add(self) -> None:
        """Open the add-registration form.

        `a` is a priority binding, so the app awaits this: the keys typed right
        after `a` wait for the form's address field to have focus, and none is lost.
        """
        form = AddRegistrationScreen.for_lab(self.session.lab, self.snapshot)
        await self.app.push_screen(form)
        # The form focuses its address field from on_mount, which lands after
        # the keys already queued: give it focus now, synchronously.
        form.set_focus(form.query_one("#addr"))

    def action_remove(self) -> None:
        """Deassign the registration under the cursor (a `d` while its removal is
        on its way is ignored by the session: the row leaves on confirmation)."""
        zones = self.query(ZonesTable)
        if zones and zones.first().has_focus:
            zone_id = zones.first().selected_id
            if zone_id is not None:
                self.session.remove_zone(zone_id)
                return
        reg_id = self.query_one(RegistrationsTable).selected_id
        if reg_id is None:
            self.notify(
                "No registration is selected.", title="Nothing to remove", severity="warning"
            )
            return
        self.session.remove(reg_id)

    def _forget(self, reg_id: int) -> None:
        """Take a removed registration off the table now, not at the next reading:
        the cursor moves on to the row that followed, and `d` works again."""
        snap = self.snapshot
        if snap is not None:
            kept = tuple(r for r in snap.registrations if r.id != reg_id)
            self.snapshot = replace(snap, registrations=kept)
            self._show_registrations()
        self.session.removed(reg_id)

    def action_edit_plan(self) -> None:
        """Open the ring-plan editor on the plan the guest rings now."""
        # Every vCPU rings the same plan (a completion's slots on its kicker alone):
        # edit the one they share, else vCPU 0's (the others' slots repeat it).
        snap = self.snapshot
        plan = [slot.spec for slot in snap.slots if slot.vcpu == 0] if snap else demo_plan()
        with suppress(EngineError):  # closed while `v` swaps the VM: the snapshot's plan
            lab = self.session.lab
            shared = lab.shared_plan if lab is not None else None
            plan = shared if shared is not None else plan

        def apply(result: list[SlotSpec] | None) -> None:
            if result is not None:
                self.session.set_plan(result)

        self.app.push_screen(RingPlanScreen(plan), apply)

    def action_pause(self) -> None:
        """Park the guest at a quiescent point."""
        self.session.pause()

    def action_resume(self) -> None:
        """Let the guest ring again."""
        self.session.resume()

    def action_reset(self) -> None:
        """Zero every count and histogram."""
        self.session.reset()

    def action_cycle_reader(self) -> None:
        """Cycle the eventfd reader: none → poll → epoll."""
        self.session.cycle_reader()

    def action_cycle_drain(self) -> None:
        """Switch who drains the coalesced ring: exits ↔ a thread."""
        self.session.cycle_drain()

    def action_toggle_pace(self) -> None:
        """Pace the plan for wake-up latency, or ring flat out again."""
        paced = self.snapshot is not None and self.snapshot.pace_us is not None
        lab = self.session.lab
        if not paced and lab is not None and lab.vcpus > 1:
            text = "paced mode runs on one vCPU: press v first"
            self.log_event(text, "warning")
            self.notify(text, title="Not paced", severity="warning")
            return
        self.session.toggle_pace()

    def action_device_work(self) -> None:
        """Ask how long the selected registration's device works before it answers."""
        ask_device_work(self, self.snapshot, self.session)

    def action_toggle_vcpus(self) -> None:
        """Restart the VM with one or two vCPUs."""
        self.log_event("restarting the VM with another vCPU count…")
        self.session.switch_vcpus()

    def action_cycle_interval(self) -> None:
        """Step through the refresh intervals (kvm_stat's `s`)."""
        interval = self.session.next_refresh_interval()
        self.notify(f"Refreshing every {interval:g} s.", title="Refresh interval")

    def action_filter(self) -> None:
        """Ask for an address fragment to filter registrations by."""

        def apply(result: str | None) -> None:
            if result is not None:
                self.filter_text = result

        self.app.push_screen(FilterPrompt(self.filter_text), apply)

    def action_sort(self) -> None:
        """Cycle the registrations' sort order."""
        index = SORT_KEYS.index(self.sort_key)
        self.sort_key = SORT_KEYS[(index + 1) % len(SORT_KEYS)]

    def action_scale_plot(self) -> None:
        """Open the scale screen; it sweeps on its own VM while the live guest waits."""
        self.app.push_screen(
            ScalePlotScreen(
                self._scale_sweep,
                hold_live=self.session.hold_for_sweep,
                release_live=self.session.release_after_sweep,
            )
        )

    def action_roundtrip(self) -> None:
        """Open the round-trip screen; it runs on its own VM while the live guest waits."""
        self.app.push_screen(
            RoundTripScreen(
                self._roundtrip,
                hold_live=partial(self.session.hold_for_sweep, "round trip"),
                release_live=self.session.release_after_sweep,
            )
        )
