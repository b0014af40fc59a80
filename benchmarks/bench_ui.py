"""What the app costs the guest, and what a frame with 100 registrations costs.

1. Guest ring rate with the app on screen (Textual's headless driver, a
   160x45 screen refreshing as usual) against the headless engine, in one
   process run: headless, app, headless again.  Target: app >= 0.9 x headless.
   Rates come from exact checkpoints (rings counted by the guest).
2. A frame with 100 registrations: the main screen's reading handler (tables
   updated in place), then the screen's layout and a full (not partial)
   compositor render turned into terminal segments.  Target: p90 well under
   50 ms (the vCPU thread holds one of this machine's two CPUs, so a frame can
   wait).  Wall time, and the UI thread's own CPU time, which other processes
   on a shared machine disturb less.  An SVG export of the same screen is
   timed too, as a generous upper bound.
3. Where a frame's paint goes: the UI thread's CPU time in each panel's
   `render_lines` (a panel's scrollbars count as the panel's), per frame,
   while the guest rings and again while it is paused (readings that show
   the same figures: what a widget that repaints only what changed saves).

    python benchmarks/bench_ui.py [--seconds S] [--frames F]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from textual.app import App
from textual.geometry import Region
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.engine.snapshot import Snapshot
from iofdtui.ui.app import IofdApp, make_app
from iofdtui.ui.messages import SnapshotReady

PANELS = ("header", "registrations", "doorbells", "detail", "log", "keys")
"""The main screen's panels by id; whatever else paints is `screen`."""


def _rate(lab: Lab, seconds: float) -> float:
    first = lab.checkpoint()
    time.sleep(seconds)
    last = lab.checkpoint()
    rings = sum(d.rings for d in last.doorbells) - sum(d.rings for d in first.doorbells)
    return rings / (last.taken_at - first.taken_at)


def headless_rate(seconds: float) -> float:
    """Guest rings/s of the demo with no UI."""
    with Lab() as lab:
        lab.set_plan(demo_plan())
        for spec in demo_registrations():
            lab.add_registration(spec)
        lab.start()
        time.sleep(0.5)
        return _rate(lab, seconds)


async def _wait_for_lab(app: App[object]) -> Lab:
    for _ in range(200):
        lab = getattr(app, "lab", None)
        if lab is not None and getattr(app, "snapshot", None) is not None:
            return lab
        await asyncio.sleep(0.05)
    raise RuntimeError("the app did not start its lab; see its event log (iofdtui)")


async def app_rate(seconds: float) -> float:
    """Guest rings/s of the same demo with the app on screen."""
    app = make_app()
    async with app.run_test(size=(160, 45)):
        lab = await _wait_for_lab(app)
        await asyncio.sleep(0.5)
        return await asyncio.to_thread(_rate, lab, seconds)


def _lab_with_100(vcpus: int = 1) -> Lab:
    lab = Lab(vcpus)
    for port in range(0x700, 0x700 + 98):
        lab.add_registration(RegistrationSpec(Bus.PIO, port, 1))
    return lab


def _panel(widget: Widget) -> str:
    """The main-screen panel a widget paints for (itself, or an ancestor)."""
    node: object = widget
    while isinstance(node, Widget):
        if node.id in PANELS:
            return node.id
        node = node.parent
    return "screen"


@contextmanager
def paint_split(into: dict[str, float]) -> Iterator[None]:
    """Add each panel's UI-thread CPU seconds in `render_lines` to `into`.

    The compositor asks every visible widget (and scrollbar) for its lines
    through this one method, once per widget, so the sum is the paint.
    """
    original = Widget.render_lines

    def timed(self: Widget, crop: Region) -> list[Strip]:
        start = time.thread_time()
        try:
            return original(self, crop)
        finally:
            into[_panel(self)] += time.thread_time() - start

    Widget.render_lines = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Widget.render_lines = original  # type: ignore[method-assign]


def full_paint(app: App[object]) -> None:
    """Lay the screen out and render every cell into terminal segments (bench-only).

    The one place the benchmarks reach into Textual's private members
    (`Screen._refresh_layout`, `Screen._compositor`): no public call does this
    work and only this. `App.export_screenshot()` renders the full screen but
    adds an SVG export several times the frame's cost (timed on its own
    below), and `await pilot.pause()` times the event loop's idle wait
    besides a partial render. Never used by the app or its tests; if a Textual
    release renames these, this helper is the only thing to update.
    """
    screen = app.screen
    screen._refresh_layout(app.size)
    update = screen._compositor.render_update(full=True)
    list(app.console.render(update))


class AppPaints:
    """Wall and UI-thread CPU milliseconds of the paints the app itself does.

    Textual paints from the screen's update timer, after the widgets a reading
    changed have told the screen so through its message queue: a layout only
    if a widget asked for one, then a render of the regions that changed,
    written to the driver. Timing that callback while the event loop runs
    gives the app's own paint, as it happens (bench-only; private, as
    `full_paint` is, and for the same reason).
    """

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.calls = 0

    @contextmanager
    def timing(self) -> Iterator[None]:
        original = Screen._on_timer_update

        def timed(screen: Screen[object]) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                original(screen)
            finally:
                self.wall += (time.perf_counter() - wall) * 1e3
                self.cpu += (time.thread_time() - cpu) * 1e3
                self.calls += 1

        Screen._on_timer_update = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            Screen._on_timer_update = original  # type: ignore[method-assign]

    async def settle(self, seconds: float = 0.1) -> tuple[float, float]:
        """Let the event loop paint what is pending; the (wall, CPU) ms it took.

        Several update periods (Textual paints at most 60 times a second), so
        a change a widget reports late is painted inside the window too.
        """
        self.wall = self.cpu = 0.0
        await asyncio.sleep(seconds)
        return self.wall, self.cpu


def _frame(app: IofdApp, snap: Snapshot) -> None:
    """One reading shown, then the layout and a full render into terminal segments."""
    app.main.show_reading(SnapshotReady(snap))
    full_paint(app)


class Frames:
    """Per-frame figures in milliseconds."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.svg: list[float] = []
        self.split: list[dict[str, float]] = []


async def frame_times(frames: int, paused: bool = False) -> Frames:
    """A frame with 100 registrations on screen, the guest ringing (or paused)."""
    app = make_app(_lab_with_100)
    out = Frames()
    async with app.run_test(size=(160, 45)):
        lab = await _wait_for_lab(app)
        if paused:
            await asyncio.to_thread(lab.pause)
        for i in range(frames + 1):
            await asyncio.sleep(0.05)
            snap = await asyncio.to_thread(lab.snapshot)
            assert len(snap.registrations) == 100
            split: dict[str, float] = defaultdict(float)
            with paint_split(split):
                start, cpu = time.perf_counter(), time.thread_time()
                _frame(app, snap)
                wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
            if i == 0:
                continue  # the first frame after a pause shows the state change
            out.wall.append(wall * 1e3)
            out.cpu.append(cpu * 1e3)
            out.split.append({panel: s * 1e3 for panel, s in split.items()})
            if not paused:
                start = time.perf_counter()
                app.export_screenshot()
                out.svg.append((time.perf_counter() - start) * 1e3)
    return out


def _summary(ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(ms)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))], ordered[-1]


def report(what: str, frames: Frames) -> float:
    """Print one run's frame figures and paint split; return the wall p90."""
    median, p90, worst = _summary(frames.wall)
    cpu = statistics.median(frames.cpu)
    print(
        f"frame with 100 registrations, {what}: median {median:.1f} ms, p90 {p90:.1f} ms,"
        f" worst {worst:.1f} ms (of {len(frames.wall)}); UI thread CPU median {cpu:.1f} ms"
    )
    panels = sorted({p for split in frames.split for p in split})
    medians = {p: statistics.median(s.get(p, 0.0) for s in frames.split) for p in panels}
    parts = ", ".join(f"{p} {medians[p]:.1f}" for p in sorted(panels, key=lambda p: -medians[p]))
    print(f"  paint, UI thread CPU ms per frame (median): {parts}")
    return p90


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    before = headless_rate(args.seconds)
    with_app = asyncio.run(app_rate(args.seconds))
    after = headless_rate(args.seconds)
    headless = (before + after) / 2
    ratio = with_app / headless
    print(f"headless {before:,.0f} and {after:,.0f} rings/s; with the app {with_app:,.0f} rings/s")
    print(f"app / headless = {ratio:.2f} (target >= 0.90)")
    ringing = asyncio.run(frame_times(args.frames))
    p90 = report("guest ringing", ringing)
    print(f"  (SVG export of that screen: median {statistics.median(ringing.svg):.1f} ms)")
    report("guest paused", asyncio.run(frame_times(args.frames, paused=True)))
    print("targets met" if ratio >= 0.9 and p90 < 50 else "TARGETS MISSED")


if __name__ == "__main__":
    main()
