"""App-wide messages: what the engine workers report back to the event loop.

Workers run engine calls in threads and only ever `post_message` (the one
thread-safe way in); handlers on the app turn these into widget updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import MachineFacts, RegistrationStats, Snapshot

Histogram = list[tuple[float, int]]
"""A raw guest-cycle histogram: (bucket lower bound in ns, count)."""


@dataclass
class LabStarted(Message):
    """The VM is up and the guest rings the demo plan."""

    machine: MachineFacts
    registrations: dict[int, RegistrationSpec]


@dataclass
class LabFailed(Message):
    """The VM could not start; `message` is one line with the cause and the fix."""

    message: str


@dataclass
class SnapshotReady(Message):
    """A fresh reading of every counter, plus the selected path's histograms."""

    snapshot: Snapshot
    selected: int | None = None
    histogram: Histogram = field(default_factory=list)
    baseline_key: tuple[Bus, int] | None = None
    baseline_histogram: Histogram = field(default_factory=list)
    reader_histograms: dict[str, Histogram] = field(default_factory=dict)
    """The selected registration's stream ring cost under each reader measured since reset."""
    wake_histogram: Histogram = field(default_factory=list)
    """Paced: the selected registration's wake-up latency (guest write → reader running)."""

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot makes an unhandled older one worthless."""
        return isinstance(message, SnapshotReady)


@dataclass
class RegistrationAdded(Message):
    """The kernel accepted a registration."""

    reg_id: int
    spec: RegistrationSpec


@dataclass
class RegistrationRefused(Message):
    """The engine or the kernel refused a registration (one-line `message`)."""

    spec: RegistrationSpec
    message: str
    field: str | None


@dataclass
class RegistrationRemoved(Message):
    """A registration was deassigned; `final` holds its drained counts."""

    final: RegistrationStats


@dataclass
class GuestPaused(Message):
    """The guest parked; `exact` is False when it had to be kicked."""

    exact: bool


@dataclass
class GuestResumed(Message):
    """The guest rings again."""


@dataclass
class CountersReset(Message):
    """Every count and histogram went back to zero."""


@dataclass
class ReaderChanged(Message):
    """The eventfd reader is now this mode: one of `READERS` ("none", "poll", "epoll")."""

    mode: str


@dataclass
class PinningChanged(Message):
    """CPU pinning is now `pinning` (the engine's text; None: not pinned).

    `refused` is the one-line reason when pinning was asked for and refused.
    """

    pinning: str | None
    refused: str | None = None


@dataclass
class PaceChanged(Message):
    """The ring plan is now paced every `pace_us` µs (None: flat out)."""

    pace_us: float | None


@dataclass
class VcpusChanged(Message):
    """A new VM with `vcpus` vCPUs took over; registrations were made again.

    Attributes:
        renumbered: old registration id -> its id in the new VM.
        pace_dropped: paced mode was on and is now off (it runs on one vCPU).
    """

    vcpus: int
    registrations: dict[int, RegistrationSpec]
    renumbered: dict[int, int] = field(default_factory=dict)
    pace_dropped: bool = False


@dataclass
class PlanChanged(Message):
    """The guest now rings this plan."""

    plan: list[SlotSpec]


@dataclass
class PlanRejected(Message):
    """A ring plan was refused (one-line `message`); the guest rings the plan it had."""

    message: str


@dataclass
class EngineFailed(Message):
    """A recoverable engine error while doing `action`; shown as a toast."""

    action: str
    message: str
