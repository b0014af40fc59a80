"""Each registration's signals/s over the last minute, for the detail pane's sparkline."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from collections.abc import Sequence
from operator import attrgetter

from iofdtui.engine.snapshot import RegistrationStats, Snapshot

_ID = attrgetter("id")

MAX_READINGS = 4_800
"""The most readings kept (a minute of readings every 12.5 ms): a recording's times
are untrusted, and a window of them must not grow without end."""


class RateHistory:
    """The readings of the last `window_s` seconds, kept whole.

    A reading's rows are the engine's objects, shared with the readings
    before it while a registration is quiet, so keeping them costs a
    reference each; a history is read out only for the registration shown,
    and a reading costs nothing per registration (1,000 of them included).
    """

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._readings: deque[tuple[float, Sequence[RegistrationStats]]] = deque(
            maxlen=MAX_READINGS
        )

    def add(self, snap: Snapshot) -> None:
        """One more reading; those older than the window go.

        A reading taken no later than the last one is not new: the same one
        shown again (a replay standing on a frame) adds nothing, and an earlier
        one (a replay seeking back) starts the history again from it.
        """
        if self._readings and snap.taken_at <= self._readings[-1][0]:
            if snap.taken_at == self._readings[-1][0]:
                return
            self._readings.clear()
        self._readings.append((snap.taken_at, snap.registrations))
        while self._readings and self._readings[0][0] < snap.taken_at - self.window_s:
            self._readings.popleft()

    def clear(self) -> None:
        """Forget every reading (counters were reset: old rates are another run's)."""
        self._readings.clear()

    def rates(self, reg_id: int) -> list[float]:
        """Its signals/s at each reading in the window that measured one, oldest first."""
        out = []
        for _, rows in self._readings:
            # A reading's rows are in id order (ids only grow).
            i = bisect_left(rows, reg_id, key=_ID)
            rate = rows[i].signals_per_s if i < len(rows) and rows[i].id == reg_id else None
            # A replayed file may hold NaN or infinity, which no sparkline can scale.
            if rate is not None and math.isfinite(rate):
                out.append(rate)
        return out
