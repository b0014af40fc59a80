"""The host threads behind a ring: how often the vCPU thread was preempted
and how long it waited to run, and pinning threads to CPUs.

Read from /proc/self/task/TID: `status` (`nonvoluntary_ctxt_switches`: the
thread was switched out while it still wanted the CPU, e.g. by a woken reader)
and `schedstat` (its second field: nanoseconds spent runnable on a run queue,
waiting for a CPU).  Both are cumulative per thread, so a figure over an
interval is a difference of two readings of the same thread.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThreadSched:
    """One thread's cumulative scheduling counters."""

    preemptions: int
    runqueue_wait_ns: int


def read_thread(tid: int) -> ThreadSched | None:
    """A thread of this process, or None when it is gone or /proc lacks the files."""
    try:
        with open(f"/proc/self/task/{tid}/status") as f:
            status = f.read()
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            fields = f.read().split()
    except OSError:
        return None
    preempted = next(
        (
            int(line.split()[1])
            for line in status.splitlines()
            if line.startswith("nonvoluntary_ctxt_switches:")
        ),
        None,
    )
    if preempted is None or len(fields) < 2:
        return None
    return ThreadSched(preempted, int(fields[1]))


class SchedWatch:
    """Differences of the vCPU threads' counters between two readings.

    A thread that was restarted (a new TID) starts from its new counters, so
    a restart never shows up as a negative or invented figure.
    """

    def __init__(self) -> None:
        self._last: dict[int, ThreadSched] = {}

    def delta(self, tids: list[int]) -> tuple[int, int] | None:
        """(preemptions, run-queue wait ns) since the previous call, summed over `tids`.

        None on the first reading of a thread (nothing to difference yet) or
        when a thread cannot be read.
        """
        now = {tid: read_thread(tid) for tid in tids if tid}
        complete = bool(now) and all(v is not None for v in now.values())
        fresh = any(tid not in self._last for tid in now)
        result = None
        if complete and not fresh:
            result = (
                sum(now[t].preemptions - self._last[t].preemptions for t in now),  # type: ignore[union-attr]
                sum(now[t].runqueue_wait_ns - self._last[t].runqueue_wait_ns for t in now),  # type: ignore[union-attr]
            )
        self._last = {t: v for t, v in now.items() if v is not None}
        return result

    def reset(self) -> None:
        """Forget the previous reading (after a counter reset: a new interval)."""
        self._last.clear()


_ORIGINAL: set[int] | None = None


def pick_cpus() -> tuple[int, int]:
    """(CPU for the vCPU threads, CPU for everything else) among those allowed.

    Raises ValueError with the reason when fewer than two CPUs are available.
    """
    allowed = sorted(_ORIGINAL if _ORIGINAL is not None else os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise ValueError(
            f"pinning needs two CPUs and this process may use {len(allowed)}: nothing to separate"
        )
    return allowed[-1], allowed[0]


def pin_others(cpu: int, exclude: list[int]) -> None:
    """Pin every thread of this process but `exclude` (the vCPU threads) to `cpu`.

    Threads started later inherit it from their creator.
    """
    global _ORIGINAL
    if _ORIGINAL is None:
        _ORIGINAL = set(os.sched_getaffinity(0))
    for tid in _tids():
        if tid not in exclude:
            _set(tid, {cpu})


def unpin_others() -> None:
    """Give every thread of this process its original CPUs back."""
    global _ORIGINAL
    if _ORIGINAL is None:
        return
    for tid in _tids():
        _set(tid, _ORIGINAL)
    _ORIGINAL = None


def _tids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [0]  # 0: the calling thread


def _set(tid: int, cpus: set[int]) -> None:
    # The thread may have ended meanwhile, or not be ours to move.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.sched_setaffinity(tid, cpus)
