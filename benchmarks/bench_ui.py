"""What the app costs the guest, and what a frame with 100 registrations costs.

1. Guest ring rate with the app on screen (Textual's headless driver, a
   160x45 screen refreshing as usual) against the headless engine, in one
   process run: headless, app, headless again.  Target: app >= 0.9 x headless.
   Rates come from exact checkpoints (rings counted by the guest).
2. A frame with 100 registrations: the snapshot handler (tables updated in
   place), then the screen's layout and a full (not partial) compositor
   render turned into terminal segments.  Target: p90 well under 50 ms (the
   vCPU thread holds one of this machine's two CPUs, so a frame can wait).  An SVG
   export of the same screen is timed too, as a generous upper bound.

    python benchmarks/bench_ui.py [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.ui.app import make_app
from iofdtui.ui.messages import SnapshotReady


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


async def _wait_for_lab(app: object) -> Lab:
    for _ in range(200):
        lab = getattr(app, "lab", None)
        if lab is not None and getattr(app, "snapshot", None) is not None:
            return lab
        await asyncio.sleep(0.05)
    raise RuntimeError("the app did not start its lab")


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


async def frame_times(frames: int = 20) -> tuple[list[float], list[float]]:
    """Seconds per frame, and per SVG export, with 100 registrations on screen."""
    app = make_app(_lab_with_100)
    frame, svg = [], []
    async with app.run_test(size=(160, 45)):
        await _wait_for_lab(app)
        for _ in range(frames):
            await asyncio.sleep(0.05)
            snap = app.snapshot
            assert snap is not None and len(snap.registrations) == 100
            start = time.perf_counter()
            app._snapshot_ready(SnapshotReady(snap))
            app.screen._refresh_layout(app.size)
            update = app.screen._compositor.render_update(full=True)
            list(app.console.render(update))
            frame.append(time.perf_counter() - start)
            start = time.perf_counter()
            app.export_screenshot()
            svg.append(time.perf_counter() - start)
    return frame, svg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    before = headless_rate(args.seconds)
    with_app = asyncio.run(app_rate(args.seconds))
    after = headless_rate(args.seconds)
    headless = (before + after) / 2
    ratio = with_app / headless
    print(f"headless {before:,.0f} and {after:,.0f} rings/s; with the app {with_app:,.0f} rings/s")
    print(f"app / headless = {ratio:.2f} (target >= 0.90)")
    times, svg = asyncio.run(frame_times())
    ms = sorted(t * 1e3 for t in times)
    median, p90, worst = statistics.median(ms), ms[int(0.9 * (len(ms) - 1))], ms[-1]
    print(
        f"frame with 100 registrations: median {median:.1f} ms, p90 {p90:.1f} ms, "
        f"worst {worst:.1f} ms (of {len(ms)}: {', '.join(f'{t:.0f}' for t in ms)})"
    )
    print(f"(SVG export of that screen: median {statistics.median(svg) * 1e3:.1f} ms)")
    print("targets met" if ratio >= 0.9 and p90 < 50 else "TARGETS MISSED")


if __name__ == "__main__":
    main()
