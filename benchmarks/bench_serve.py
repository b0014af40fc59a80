"""What a browser watching `iofdtui serve` costs the lab it watches.

Each visitor runs a replay app on the presenter's machine (following the
recording, redrawing as frames arrive), and this machine's CPUs are the ones
the vCPU thread rings on. This measures the guest's ring rate with and
without visitors, in one run:

- the lab: `iofdtui record FILE` (the demo, headless, a reading every
  0.5 s), as the presenter's app would record it;
- the server: `iofdtui serve`'s own (`ServerProcess`), each visitor's app a
  `replay --follow` of FILE;
- visitors: websocket clients that take a 160x45 terminal and read everything
  the app sends, as a page would (the browser's own cost is on the visitor's
  machine, so none runs here);
- the CPU the server and the visitors' apps use while watching (CPU seconds
  per second, from /proc), which is what they take from the lab;
- phases alternate, none / N visitors, `--rounds` times, `--phase` seconds
  each; the rate of a phase is rings over time between its frames (its first
  second dropped: the visitors' apps start, or end, in it), and the ratio
  with visitors over the mean of the phases either side of it is kept,
  median over rounds.

    python benchmarks/bench_serve.py [--visitors N] [--phase S] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

from iofdtui.recording.frames import Frame
from iofdtui.recording.reader import follow
from iofdtui.serve.server import ServerProcess, listen, visitor_command

SETTLE_S = 1.0
"""Dropped at the start of each phase: visitors' apps start or end in it."""


def rate(frames: list[Frame], start: float, end: float) -> float:
    """Guest rings/s between the first and last frame in [start + SETTLE_S, end)."""
    inside = [f for f in frames if start + SETTLE_S <= f.at < end]
    if len(inside) < 2:
        raise SystemExit(f"too few frames in {start:.1f}-{end:.1f} s: lengthen --phase")
    first, last = inside[0], inside[-1]
    return (last.snapshot.total_rings - first.snapshot.total_rings) / (last.at - first.at)


async def watch(url: str, stop: asyncio.Event) -> int:
    """One visitor: a 160x45 terminal, everything read until `stop`; bytes received."""
    received = 0
    async with (
        aiohttp.ClientSession() as client,
        client.ws_connect(url, params={"width": "160", "height": "45"}) as ws,
    ):
        while not stop.is_set():
            try:
                message = await ws.receive(timeout=0.2)
            except TimeoutError:
                continue
            if message.type is aiohttp.WSMsgType.BINARY:
                received += len(message.data)
            elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    return received


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of group `pgid`
    (the server and its visitors' apps)."""
    ticks = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state ppid pgrp ... utime (12th) stime (13th).
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def visited(url: str, visitors: int, seconds: float, pgid: int) -> tuple[int, float]:
    """`visitors` watching for `seconds`: the bytes they received, and the CPU the
    server and their apps used per second of watching, once settled."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(watch(url, stop)) for _ in range(visitors)]
    await asyncio.sleep(SETTLE_S)
    cpu, start = group_cpu_s(pgid), time.monotonic()
    await asyncio.sleep(seconds - SETTLE_S)
    share = (group_cpu_s(pgid) - cpu) / (time.monotonic() - start)
    stop.set()
    return sum(await asyncio.gather(*tasks)), share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=1, help="visitors at once (default 1)")
    parser.add_argument("--phase", type=float, default=6.0, help="seconds per phase (default 6)")
    parser.add_argument("--rounds", type=int, default=3, help="phases with visitors (default 3)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    recording = workdir / "lab.jsonl"
    seconds = (2 * args.rounds + 1) * args.phase + 5
    lab = subprocess.Popen(
        [sys.executable, "-m", "iofdtui", "record", str(recording), "--seconds", f"{seconds:g}"],
        stdout=subprocess.DEVNULL,
    )
    sock, address = listen("127.0.0.1", 0)
    server = ServerProcess(
        sock,
        visitor_command(recording),
        title="bench",
        log_path=workdir / "server.log",
        max_visitors=args.visitors,
        wait_for=recording,
    )
    sock.close()
    server.wait_ready()
    frames: list[Frame] = []
    reader = threading.Thread(
        target=lambda: frames.extend(
            item for item in follow(recording, timeout_s=3.0) if isinstance(item, Frame)
        ),
        daemon=True,
    )
    reader.start()
    while not frames:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{address.port}/ws"

    # Phase boundaries in the recording's own time (`Frame.at`).
    def now() -> float:
        return frames[-1].at

    bounds: list[tuple[float, float, bool]] = []
    sent = 0
    cpu: list[float] = []
    try:
        for index in range(2 * args.rounds + 1):
            on = index % 2 == 1
            start = now()
            if on:
                received, share = asyncio.run(visited(url, args.visitors, args.phase, server.pid))
                sent += received
                cpu.append(share)
            else:
                time.sleep(args.phase)
            bounds.append((start, now(), on))
    finally:
        server.stop()
        lab.wait()
        reader.join(10)
        shutil.rmtree(workdir, ignore_errors=True)

    rates = [(rate(frames, start, end), on) for start, end, on in bounds]
    ratios = [
        rates[i][0] / ((rates[i - 1][0] + rates[i + 1][0]) / 2) for i in range(1, len(rates), 2)
    ]
    for (value, on), (start, end, _) in zip(rates, bounds, strict=True):
        label = f"{args.visitors} visitor(s)" if on else "no visitor"
        print(f"  {start:6.1f}-{end:6.1f} s  {label:>13}  {value:10,.0f} rings/s")
    print(f"visitors received {sent / 1e6:.1f} MB of terminal output over {args.rounds} phases")
    print(
        f"the server and {args.visitors} visitor app(s) used {statistics.median(cpu):.2f} CPU "
        f"(CPU seconds per second, median of {args.rounds}; this machine has {os.cpu_count()})"
    )
    print(
        f"ring rate with {args.visitors} visitor(s) / without, median of {args.rounds}: "
        f"{statistics.median(ratios):.2f} (each: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


if __name__ == "__main__":
    main()
