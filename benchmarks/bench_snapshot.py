"""`Lab.snapshot()` at 10 and at 1,000 registrations, in one run.

The demo plan rings (its two registrations move); the rest are registrations
the guest never rings, as a device model's many quiet queues.  Each size gets
its own lab, built and measured one after the other, so both figures come from
the same sitting.  `--profile` prints the top of a cProfile of the largest
size's snapshots.  Target (issue 13): median ≤ 3 ms at 1,000.  Beside the wall
time, the reading thread's CPU time (`time.thread_time`): on a busy machine the
wall time also counts the waits for a CPU, which the CPU time leaves out.

    python benchmarks/bench_snapshot.py [--sizes 10,1000] [--count 200] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import statistics
import time

from iofdtui.engine.demo import demo_plan, demo_registrations
from iofdtui.engine.lab import Lab
from iofdtui.engine.model import Bus, RegistrationSpec


def quiet_specs(count: int) -> list[RegistrationSpec]:
    """`count` distinct registrations the demo plan never rings (PIO, MMIO, trigger values)."""
    pio, mmio = count * 6 // 10, count // 4
    specs = [RegistrationSpec(Bus.PIO, 0x1000 + i, 1) for i in range(pio)]
    specs += [RegistrationSpec(Bus.MMIO, 0xD000_0000 + 0x10 * i, 4) for i in range(mmio)]
    specs += [RegistrationSpec(Bus.PIO, 0x0700, 2, v) for v in range(1, count - pio - mmio + 1)]
    return specs


def need_fds(registrations: int) -> None:
    """One eventfd per registration: raise the soft limit when it is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = registrations + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {want}: raise it (ulimit -Hn)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def snapshot_ms(
    registrations: int, count: int, profile: cProfile.Profile | None
) -> tuple[list[float], list[float]]:
    """Milliseconds per `Lab.snapshot()`, wall and this thread's CPU, with the demo
    ringing and `registrations` in place."""
    with Lab() as lab:
        lab.set_plan(demo_plan())
        for spec in [*demo_registrations(), *quiet_specs(registrations - 2)]:
            lab.add_registration(spec)
        lab.start()
        time.sleep(0.3)
        lab.snapshot()  # the first reading has no interval: not a typical one
        out, cpu = [], []
        for _ in range(count):
            time.sleep(0.01)  # the guest rings between readings, as under the app's poller
            if profile is not None:
                profile.enable()
            start, start_cpu = time.perf_counter(), time.thread_time()
            snap = lab.snapshot()
            out.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.thread_time() - start_cpu) * 1e3)
            if profile is not None:
                profile.disable()
        if len(snap.registrations) != registrations:
            raise SystemExit(
                f"expected {registrations} registrations, read {len(snap.registrations)}"
            )
        return out, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000", help="registration counts, comma-separated")
    parser.add_argument("--count", type=int, default=200, help="snapshots per size")
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    need_fds(sizes[-1])
    for size in sizes:
        profile = cProfile.Profile() if args.profile and size == sizes[-1] else None
        times, cpu = snapshot_ms(size, args.count, profile)
        p90 = statistics.quantiles(times, n=10)[-1]
        print(
            f"{size:>6,} registrations: snapshot median {statistics.median(times):6.2f} ms"
            f"  p90 {p90:6.2f} ms  (CPU: median {statistics.median(cpu):6.2f} ms"
            f"  p90 {statistics.quantiles(cpu, n=10)[-1]:6.2f} ms)  {len(times)} snapshots"
        )
        if profile is not None:
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
