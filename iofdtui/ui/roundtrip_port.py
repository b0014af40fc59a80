"""The round trip the app runs (`i`), as a Protocol: the real one, or a test's fake.

The round-trip screen needs only `run(progress)`: tests hand it a fixed
report at once, while the real one (`run_roundtrip` on a VM of its own with
an in-kernel irqchip) takes a few seconds on /dev/kvm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from iofdtui.engine.roundtrip_figures import RoundTripReport

ROUNDTRIP_SECONDS = 0.5
"""Seconds per path in the app: seven (two buses, two readers) take about 4 s here."""


class RoundTripPort(Protocol):
    """A round-trip run: blocking, so the screen runs it in a thread worker."""

    seconds: float

    def run(self, progress: Callable[[str], None]) -> RoundTripReport:
        """Measure every path once."""
        ...


@dataclass(frozen=True, slots=True)
class KvmRoundTrip:
    """The real run: the ioeventfd + irqfd loop under each reader, the
    userspace-exit + KVM_SIGNAL_MSI baseline and the self-IPI floor.

    Attributes:
        seconds: per path.
        readers: the device thread's modes, each a run of the ioeventfd path.
        work_us: the device's work before each completion.
    """

    seconds: float = ROUNDTRIP_SECONDS
    readers: tuple[str, ...] = ("epoll", "poll")
    work_us: float = 0.0

    def run(self, progress: Callable[[str], None]) -> RoundTripReport:
        """Run every path (blocking: a few seconds)."""
        # Imported here: the app also replays recordings where no engine is built.
        from iofdtui.engine.experiments.roundtrip import run_roundtrip

        return run_roundtrip(
            self.seconds,
            self.readers,
            work_us=self.work_us,
            progress=lambda path, reader: progress(path + (f", reader {reader}" if reader else "")),
        )
