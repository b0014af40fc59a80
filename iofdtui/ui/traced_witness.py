"""The lab's own doorbells as the kernel's tracepoints saw them: a third witness.

When tracefs is there (and we may write it), the app traces its own process
(`iofdtui.engine.attach`).  At every checkpoint, with the guest parked, the
traced writes since the previous checkpoint are set against the lab's: per
doorbell, served in the kernel = eventfd signals, and exits = the run loop's
exits.  A window that straddles a reset, a new VM, a kicked (inexact) pause or
events the kernel lost gives no verdict; the next one does.  A doorbell's
first `✗` is also said once as an event-log line (`new_mismatches()`), so a
recorded session keeps it.
"""

from __future__ import annotations

import os
from collections import deque
from typing import TYPE_CHECKING

from iofdtui.engine.attach.errors import NoSuchVm, TraceUnavailable
from iofdtui.engine.model import format_addr
from iofdtui.engine.snapshot import Checkpoint
from iofdtui.ui.widgets.doorbells_table import doorbell_key

if TYPE_CHECKING:
    # The tracer loads a compiled library: imported when a witness opens, so the
    # app (and a replay, on a machine without it) imports none.
    from iofdtui.engine.attach.tracer import Tracer

Counts = dict[str, tuple[int, int]]
"""Per doorbell row key: (served in the kernel, exits), cumulative."""

WAITING = "…"


class TracedWitness:
    """This process's doorbells, traced; a verdict per doorbell at each checkpoint."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.cells: dict[str, str] = {}
        """Per doorbell row key: `✓`, `✗ +signals/+exits`, or `…` (no verdict yet)."""
        self._before: tuple[Counts, Counts, int, int] | None = None  # traced, lab, number, lost
        self._said: set[str] = set()  # doorbells whose first mismatch is queued or said
        # Filled by at_checkpoint (a worker), emptied by the screen: deque's ends are thread-safe.
        self._mismatches: deque[str] = deque()

    @classmethod
    def open(cls) -> TracedWitness | None:
        """A witness on this process, or None where tracefs is missing or not ours to write."""
        from iofdtui.engine.attach.tracer import Tracer

        try:
            return cls(Tracer(os.getpid()).open())
        except (TraceUnavailable, NoSuchVm, ValueError, OSError):
            return None  # optional: the lab goes on without its third witness

    def poll(self) -> None:
        """Read the kernel's buffers (between checkpoints, so none fills up)."""
        self.tracer.poll()

    def at_checkpoint(self, checkpoint: Checkpoint) -> dict[str, str]:
        """Judge the window since the previous checkpoint; call with the guest parked."""
        self.tracer.poll(final=True)
        snap = self.tracer.snapshot()
        traced = {doorbell_key(d.bus, d.addr): (d.in_kernel, d.exits) for d in snap.doorbells}
        lab = {doorbell_key(d.bus, d.addr): (d.signals, d.exits) for d in checkpoint.doorbells}
        before, lost = self._before, snap.cost.lost
        self._before = (traced, lab, checkpoint.number, lost)
        if before is not None and before[2] == checkpoint.number:
            return self.cells  # the same pause: nothing new to judge
        comparable = (
            before is not None
            and checkpoint.exact
            and lost == before[3]
            and checkpoint.number > before[2]
            and all(
                lab[k][0] >= v[0] and lab[k][1] >= v[1] for k, v in before[1].items() if k in lab
            )
        )
        if not comparable:
            self.cells = dict.fromkeys(lab, WAITING)
            return self.cells
        assert before is not None
        cells = {}
        for door in checkpoint.doorbells:
            key = doorbell_key(door.bus, door.addr)
            signals, exits = lab[key]
            t_now, t_then = traced.get(key, (0, 0)), before[0].get(key, (0, 0))
            l_then = before[1].get(key, (0, 0))
            d_kernel = (t_now[0] - t_then[0]) - (signals - l_then[0])
            d_exits = (t_now[1] - t_then[1]) - (exits - l_then[1])
            cells[key] = "✓" if d_kernel == d_exits == 0 else f"✗ {d_kernel:+d}/{d_exits:+d}"
            if cells[key] != "✓" and key not in self._said:
                self._said.add(key)
                self._mismatches.append(
                    f"traced witness disagrees at {door.bus.value} "
                    f"{format_addr(door.bus, door.addr)} (checkpoint #{checkpoint.number}): "
                    f"in kernel {d_kernel:+,d} against the eventfd signals, exits "
                    f"{d_exits:+,d} against the run loop's (said once per doorbell)"
                )
        self.cells = cells
        return cells

    def new_mismatches(self) -> list[str]:
        """Event-log lines for doorbells whose verdict turned `✗` for the first time."""
        out = []
        while self._mismatches:
            out.append(self._mismatches.popleft())
        return out

    def close(self) -> None:
        """Stop tracing and remove the instance."""
        self.tracer.close()
