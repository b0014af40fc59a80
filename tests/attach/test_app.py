"""The attached VM's app, on a fake tracer: Pilot and SVG snapshots (no tracefs needed)."""

from __future__ import annotations

from textual.pilot import Pilot

from iofdtui.ui.attach.app import AttachApp
from iofdtui.ui.attach.header import AttachHeader
from iofdtui.ui.attach.kernel_tables import ExitLatencyTable, TracedIrqsTable
from iofdtui.ui.attach.messages import TraceRead
from iofdtui.ui.attach.tables import TracedDoorbellsTable, TracedThreadsTable, TracedValuesTable
from tests.attach.fake_tracer import FakeTracer


def _app(tracer: FakeTracer | None = None) -> AttachApp:
    # One reading from the worker (the next an hour away); tests post the others.
    return AttachApp(tracer or FakeTracer(), refresh_interval=3600.0)


async def _first_reading(pilot: Pilot) -> None:
    app = pilot.app
    for _ in range(200):
        await pilot.pause(0.02)
        if app.query_one(TracedDoorbellsTable).row_count:
            return
    raise AssertionError("no reading reached the screen")


async def _two_readings(pilot: Pilot) -> None:
    await _first_reading(pilot)
    app = pilot.app
    app.post_message(TraceRead(app.tracer.snapshot()))
    await pilot.pause()


def _text(widget: object) -> str:
    return str(widget.render())  # type: ignore[attr-defined]


async def test_rows_rates_and_the_selected_doorbell() -> None:
    app = _app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _two_readings(pilot)
        doors = app.query_one(TracedDoorbellsTable)
        assert doors.get_row("mmio:fe000000")[1].plain.strip() == "160,001"
        assert doors.get_row("mmio:fe000000")[2].plain.strip() == "160.0k"  # 80,000 more in 0.5 s
        assert doors.get_row("pio:3f8")[5].plain.strip() == "100.0%"
        header = _text(app.query_one(AttachHeader))
        assert "320.0k events/s" in header and "40% of a CPU" in header and "0 lost" in header
        values = app.query_one(TracedValuesTable)
        assert values.row_count == 2  # the first row, mmio, is selected
        await pilot.press("down")
        await pilot.pause()
        assert values.row_count == 1
        assert values.get_row("1:66")[2].plain.strip() == "80,000"
        assert app.query_one(TracedThreadsTable).row_count == 1


async def test_interrupts_and_exit_latency_tables() -> None:
    app = _app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _two_readings(pilot)
        irqs = app.query_one(TracedIrqsTable)
        row = [c.plain.strip() for c in irqs.get_row("vector 0x40")]
        assert row == ["vector 0x40", "2,000", "2,000", "1,999", "—"]
        assert irqs.get_row("gsi 10")[4].plain.strip() == "0/400"
        exits = app.query_one(ExitLatencyTable)
        row = [c.plain.strip() for c in exits.get_row("VMX IO_INSTRUCTION")]
        assert row == ["VMX IO_INSTRUCTION", "80,000", "5.21µs", "1.80µs", "91.0µs"]
        assert exits.border_subtitle == ""


async def test_exit_latency_says_na_where_the_events_do_not_fire() -> None:
    na = "n/a on kvm_pvm: it emulates the guest, so kvm_exit/kvm_entry never fire"
    app = _app(FakeTracer(exit_na=na))
    async with app.run_test(size=(160, 45)) as pilot:
        await _first_reading(pilot)
        exits = app.query_one(ExitLatencyTable)
        assert exits.row_count == 0 and exits.border_subtitle == na


async def test_reset_key_zeroes_the_tracer() -> None:
    tracer = FakeTracer()
    app = _app(tracer)
    async with app.run_test() as pilot:
        await _first_reading(pilot)
        await pilot.press("r")
        await pilot.pause()
        assert tracer.resets == 1


async def test_a_reading_taken_before_a_reset_is_not_shown_after_it() -> None:
    tracer = FakeTracer()
    app = _app(tracer)
    async with app.run_test() as pilot:
        await _first_reading(pilot)
        stale = tracer.snapshot()  # as the worker took it, just before `r`
        await pilot.press("r")
        await pilot.pause()
        shown = app._last
        app.post_message(TraceRead(stale, resets=0))  # its report lands after the reset
        await pilot.pause()
        assert app._last is shown, "a pre-reset reading reached the screen after r"
        fresh = tracer.snapshot()
        app.post_message(TraceRead(fresh, resets=1))
        await pilot.pause()
        assert app._last is fresh


async def test_process_end_is_said_under_the_header() -> None:
    tracer = FakeTracer(pid=2**22 + 1)  # above pid_max: no such process
    app = _app(tracer)
    async with app.run_test() as pilot:
        await _first_reading(pilot)
        await pilot.pause(0.1)
        assert "the process ended: these are its last counts" in _text(app.query_one(AttachHeader))


async def test_a_failing_read_is_one_line() -> None:
    app = _app(FakeTracer(fail="Input/output error"))
    async with app.run_test() as pilot:
        for _ in range(100):
            await pilot.pause(0.02)
            if app._ended:
                break
        assert (
            app._ended == "reading stopped: [Errno 5] Input/output error; the counts are as of then"
        )


def test_snapshot_160x45(snap_compare) -> None:
    assert snap_compare(_app(), run_before=_two_readings, terminal_size=(160, 45))


def test_snapshot_80x24(snap_compare) -> None:
    assert snap_compare(_app(), run_before=_two_readings, terminal_size=(80, 24))


def _row_keys(table: TracedDoorbellsTable) -> list[str]:
    return [str(key) for key in table.rows]


async def test_filter_sort_and_pause_the_display() -> None:
    app = _app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _two_readings(pilot)
        doors = app.query_one(TracedDoorbellsTable)
        assert _row_keys(doors) == ["mmio:fe000000", "pio:3f8"]  # by bus, then address
        await pilot.press(*"oooo")  # writes, writes/s, exits, in kernel %: pio's 100% first
        await pilot.pause()
        assert _row_keys(doors) == ["pio:3f8", "mmio:fe000000"]
        assert "sorted by in kernel %" in _text(app.query_one(AttachHeader))
        await pilot.press("f")
        await pilot.pause()
        await pilot.press(*"3f8", "enter")
        await pilot.pause()
        assert _row_keys(doors) == ["pio:3f8"]
        assert app.query_one(TracedValuesTable).get_row("1:66")[0].plain.strip() == "0x42"
        await pilot.press("p")
        app.post_message(TraceRead(app.tracer.snapshot()))  # reading 3, held
        await pilot.pause()
        assert doors.get_row("pio:3f8")[1].plain.strip() == "80,000"
        assert "DISPLAY PAUSED" in _text(app.query_one(AttachHeader))
        await pilot.press("p")
        await pilot.pause()
        assert doors.get_row("pio:3f8")[1].plain.strip() == "120,000"
        assert "DISPLAY PAUSED" not in _text(app.query_one(AttachHeader))


async def test_help_screen_lists_every_key_the_footer_and_palette_have() -> None:
    from textual.widgets import Markdown

    from iofdtui.ui.attach.help import AttachHelpScreen
    from iofdtui.ui.keys.attach import ATTACH_COMMANDS

    app = _app()
    async with app.run_test(size=(160, 45)) as pilot:
        await _first_reading(pilot)
        shown = {b.key: b.action for b in app.BINDINGS if b.show}  # type: ignore[union-attr]
        assert shown == {c.key: c.action for c in ATTACH_COMMANDS if c.footer}
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, AttachHelpScreen)
        text = app.screen.query_one(Markdown).source
        for c in ATTACH_COMMANDS:
            assert f"`{c.key}`" in text and c.brief in text, c.action
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AttachHelpScreen)
