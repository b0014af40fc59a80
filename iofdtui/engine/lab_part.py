"""What each part of `Lab` (its readout, its zones, its completions) needs of the
facade in lab.py, said once: the native handle, the registrations by id, and
the lock (`_live`) and the pause between epochs (`paused`), which `Lab` owns."""

from __future__ import annotations

from contextlib import AbstractContextManager

from iofdtui.engine.registrations import Registration


class LabPart:
    """A base class of `Lab`: the attributes and calls `Lab` provides to its parts."""

    _lab: object
    _regs: dict[int, Registration]

    def _live(self) -> AbstractContextManager[None]:  # pragma: no cover - Lab's
        """Hold the lock, refusing after close (Lab._live)."""
        raise NotImplementedError

    def paused(self) -> AbstractContextManager[None]:  # pragma: no cover - Lab's
        """Apply changes between two epochs (Lab.paused)."""
        raise NotImplementedError
