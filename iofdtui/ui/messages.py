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
class ConsumerChanged(Message):
    """The eventfd consumer now waits this way: "epoll" or "poll"."""

    mode: str


@dataclass
class PaceChanged(Message):
    """The ring plan is now paced every `pace_us` µs (None: flat out)."""

    pace_us: float | None


@dataclass
class VcpusChanged(Message):
    """A new VM with `vcpus` vCPUs took over; registrations were made again."""

    vcpus: int
    registrations: dict[int, RegistrationSpec]


@dataclass
class PlanChanged(Message):
    """The guest now rings this plan."""

    plan: list[SlotSpec]


@dataclass
class EngineFailed(Message):
    """A recoverable engine error while doing `action`; shown as a toast."""

    action: str
    message: str
