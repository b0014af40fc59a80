"""The app with 1,000 registrations: frame time, and how fast sort, filter and scroll show.

1,000 real registrations on the real engine (one eventfd each): the demo's
two, 598 wildcard PIO ports, 250 MMIO addresses and 150 trigger values at
one more port.  The guest rings the demo plan, so the demo's rows move and
the rest stay put, as in a real device model with many quiet queues.

1. The engine's `Lab.snapshot()` with 1,000 registrations (what the poller
   thread pays per refresh; it never blocks the event loop).
2. A frame as the app paints it: the snapshot handler (a fresh snapshot
   each time, tables updated in place), then what Textual's screen update
   does with it (a layout only if a widget asked for one, a render of what
   changed, written to the driver); and, inside that frame, its parts: the
   registrations table's update, the doorbells table's update (one row per
   registered address) and the paint.  Then a full frame, as after a resize:
   the same handler, a forced layout and every cell rendered into terminal
   segments, as benchmarks/bench_ui.py does for 100.
3. A sort (`o`), a filter (`f` + Enter: the filter applied) and a page-down
   scroll: the action, then the layout and full render that show it.

Each line gives wall-clock milliseconds and, last, the median CPU time of
this process (steadier than the wall clock on a shared machine).
`--against 10` measures the same frames at 160x45 with 10 registrations
right after, then `--rounds` more of both sizes alternately (frames only),
and prints the median and range of the per-round ratios of the median
frames (the goal: a frame with 1,000 within 1.2x of one with 10: only the
rows in view cost anything), and of the full frames (where the taller
table and its scrollbar show).

Target: frame p90 well under 50 ms.

    python benchmarks/bench_ui_scale.py [--registrations N] [--frames F] [--against M [--rounds R]]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from iofdtui.engine.demo import demo_registrations
from iofdtui.engine.lab import Lab
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.messages import SnapshotReady
from iofdtui.ui.widgets.doorbells_table import DoorbellsTable
from iofdtui.ui.widgets.registrations_table import RegistrationsTable

try:  # run as a script: benchmarks/ is on sys.path
    from bench_snapshot import need_fds, quiet_specs, snapshot_ms
    from bench_ui import AppPaints, full_paint
except ImportError:
    from benchmarks.bench_snapshot import need_fds, quiet_specs, snapshot_ms
    from benchmarks.bench_ui import AppPaints, full_paint


def lab_factory(registrations: int) -> Callable[[int], Lab]:
    """A lab holding all but the demo's registrations (the app adds the demo's)."""

    def build(vcpus: int = 1) -> Lab:
        lab = Lab(vcpus)
        for spec in quiet_specs(registrations - len(demo_registrations())):
            lab.add_registration(spec)
        return lab

    return build


class _FullCollections:
    """Counts the full (generation 2) garbage collections, which pause the
    whole process for tens of milliseconds with this heap: a sample that
    takes one is an outlier whatever the table does."""

    def __init__(self) -> None:
        self.count = 0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            self.count += 1


_FULL_GC = _FullCollections()
_GC_HIT: dict[str, int] = {}
_CPU: dict[str, list[float]] = {}
"""CPU milliseconds of the UI thread, by what was timed (beside the wall clock):
the process's CPU time would also count the vCPU and reader threads running
meanwhile on the other CPU."""


class _Clock:
    """Wall and CPU time of one timed part, recorded under its name."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> _Clock:
        self.gc_before = _FULL_GC.count
        self.wall, self.cpu = time.perf_counter(), time.thread_time()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.ms = (time.perf_counter() - self.wall) * 1e3
        _CPU.setdefault(self.what, []).append((time.thread_time() - self.cpu) * 1e3)
        if _FULL_GC.count != self.gc_before:
            _GC_HIT[self.what] = _GC_HIT.get(self.what, 0) + 1


@contextmanager
def _part(
    widget: RegistrationsTable | DoorbellsTable, what: str, times: dict[str, list[float]]
) -> Iterator[None]:
    """Time `widget.show` under `what` while the frame runs (the handler calls it once)."""
    show = widget.show

    def timed(*args: object, **kwargs: object) -> None:
        with _Clock(what) as clock:
            show(*args, **kwargs)  # type: ignore[arg-type]
        times[what].append(clock.ms)

    widget.show = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        del widget.show  # the class's method again


def _timed(app: IofdApp, change: Callable[[], object], what: str = "") -> float:
    with _Clock(what) as clock:
        change()
        full_paint(app)
    return clock.ms


async def _wait(predicate: Callable[[], object], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.05)


async def ui_times(
    registrations: int, frames: int, size: tuple[int, int], frames_only: bool = False
) -> dict[str, list[float]]:
    """Milliseconds per frame, sort, filter and page-down with N registrations."""
    # One reading from the poller; the benchmark takes its own readings after
    # that, so every frame shows a fresh snapshot and nothing else competes.
    app = make_app(lab_factory(registrations), refresh_interval=3600.0)
    paints = AppPaints()
    with paints.timing():
        return await _ui_times(app, paints, registrations, frames, size, frames_only)


async def _ui_times(
    app: IofdApp,
    paints: AppPaints,
    registrations: int,
    frames: int,
    size: tuple[int, int],
    frames_only: bool,
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "frame": [],
        "  regs table": [],
        "  doorbells": [],
        "  paint": [],
        "full frame": [],
        "sort": [],
        "filter": [],
        "page down": [],
    }
    async with app.run_test(size=size) as pilot:
        await _wait(lambda: app.snapshot is not None)
        lab = app.lab
        assert lab is not None
        table = app.query_one(RegistrationsTable)
        doors = app.query_one(DoorbellsTable)
        await _wait(lambda: table.row_count == registrations)
        table.focus()
        await pilot.pause()
        for _ in range(frames):
            snap = await asyncio.to_thread(lab.snapshot)
            assert len(snap.registrations) == registrations
            # The frame and its parts, timed inside it (the same snapshot): each
            # table's update within the handler, then the paint.
            with (
                _Clock("handler") as handler,
                _part(table, "  regs table", times),
                _part(doors, "  doorbells", times),
            ):
                app.main.show_reading(SnapshotReady(snap))
            wall, cpu = await paints.settle()
            times["frame"].append(handler.ms + wall)
            _CPU.setdefault("frame", []).append(_CPU["handler"][-1] + cpu)
            times["  paint"].append(wall)
            _CPU.setdefault("  paint", []).append(cpu)
        for _ in range(frames):
            snap = await asyncio.to_thread(lab.snapshot)
            reading = SnapshotReady(snap)
            times["full frame"].append(
                _timed(app, partial(app.main.show_reading, reading), "full frame")
            )
            await asyncio.sleep(0.02)
        if frames_only:
            return times
        for _ in range(frames):
            times["sort"].append(_timed(app, app.main.action_sort, "sort"))
            await asyncio.sleep(0.02)
        for i in range(frames):
            needle = ("fe", "0x1", "d000", "")[i % 4]

            def apply(needle: str = needle) -> None:
                app.main.filter_text = needle

            times["filter"].append(_timed(app, apply, "filter"))
            await asyncio.sleep(0.02)
        app.main.filter_text = ""
        app.main.sort_key = "id"
        await pilot.pause()
        for _ in range(frames):
            before = table.scroll_y
            times["page down"].append(_timed(app, table.action_page_down, "page down"))
            # Page-down must have moved the view; at the bottom, start again.
            if table.scroll_y == before:
                table.move_cursor(row=0, animate=False)
            await asyncio.sleep(0.02)
    return times


def summary(ms: list[float], cpu: list[float] | None = None) -> str:
    ordered = sorted(ms)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    median, worst = statistics.median(ordered), ordered[-1]
    line = f"median {median:6.1f} ms  p90 {p90:6.1f} ms  worst {worst:6.1f} ms"
    if cpu:
        line += f"  CPU median {statistics.median(cpu):6.1f} ms"
    return line


def _report(size: tuple[int, int], times: dict[str, list[float]]) -> None:
    print(f"  at {size[0]}x{size[1]}:")
    for what, ms in times.items():
        hit = _GC_HIT.get(what, 0)
        note = f"  ({hit} with a full GC)" if hit else ""
        print(f"    {what:<14} {summary(ms, _CPU.get(what))}{note}")


def _medians(times: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """Median wall and CPU milliseconds of the frame and the full frame."""
    return {
        what: (statistics.median(times[what]), statistics.median(_CPU[what]))
        for what in ("frame", "full frame")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=1_000)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument(
        "--against", type=int, default=None, help="also frames with this many, and the ratio"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="with --against: more alternating rounds of frames at both sizes (the ratio's spread)",
    )
    args = parser.parse_args()
    need_fds(args.registrations)
    snap_ms, _ = snapshot_ms(args.registrations, 30, None)
    print(f"{args.registrations:,} registrations")
    print(f"  engine Lab.snapshot() (poller thread)  {summary(snap_ms)}")
    ok = True
    frames: dict[int, dict[str, tuple[float, float]]] = {}
    for size in ((160, 45), (80, 24)):
        _GC_HIT.clear()
        _CPU.clear()
        times = asyncio.run(ui_times(args.registrations, args.frames, size))
        _report(size, times)
        if size == (160, 45):
            frames[args.registrations] = _medians(times)
        ok = ok and all(
            sorted(ms)[int(0.9 * (len(ms) - 1))] < 50
            for what, ms in times.items()
            if not what.startswith(" ")
        )
    print("targets met (every p90 < 50 ms)" if ok else "TARGETS MISSED")
    if args.against is not None:
        _GC_HIT.clear()
        _CPU.clear()
        times = asyncio.run(ui_times(args.against, args.frames, (160, 45)))
        print(f"{args.against:,} registrations, same run")
        _report((160, 45), times)
        frames[args.against] = _medians(times)
        _ratios(args, [(frames[args.registrations], frames[args.against])])


def _ratios(
    args: argparse.Namespace,
    pairs: list[tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]],
) -> None:
    """The frame ratios of the two sizes, over alternating rounds.

    One pair of runs, a minute apart on a shared machine, can land in
    different load; the rounds alternate the sizes so both see the same
    load, and the median of their ratios is the figure.
    """
    for _ in range(args.rounds):
        medians = []
        for n in (args.registrations, args.against):
            _CPU.clear()
            medians.append(_medians(asyncio.run(ui_times(n, args.frames, (160, 45), True))))
        pairs.append((medians[0], medians[1]))
    for what in ("frame", "full frame"):
        walls = sorted(big[what][0] / small[what][0] for big, small in pairs)
        cpus = sorted(big[what][1] / small[what][1] for big, small in pairs)
        goal = " (goal <= 1.2x)" if what == "frame" else ""
        print(
            f"{what} at 160x45, {args.registrations:,} vs {args.against:,} registrations, "
            f"median of {len(pairs)} alternating rounds: wall {statistics.median(walls):.2f}x "
            f"({walls[0]:.2f}-{walls[-1]:.2f}), CPU {statistics.median(cpus):.2f}x "
            f"({cpus[0]:.2f}-{cpus[-1]:.2f}){goal}"
        )


if __name__ == "__main__":
    main()
