"""What the session's workers report back to the event loop.

Workers run engine calls in threads and only ever `post_message` (the one
thread-safe way in) to the app, which hands each to the main screen. Three
have a shape of their own (the VM came up, it could not, a reading); every
other engine call ends in one `EngineDone`, carrying what happened as a plain
outcome below, or one `EngineFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from iofdtui.engine.model import RegistrationSpec, SlotSpec
from iofdtui.engine.snapshot import MachineFacts, RegistrationStats, Snapshot
from iofdtui.engine.zone_stats import ZoneSpec, ZoneStats

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
    baseline_histogram: Histogram = field(default_factory=list)
    reader_histograms: dict[str, Histogram] = field(default_factory=dict)
    """The selected registration's stream ring cost under each reader measured since reset."""
    wake_histogram: Histogram = field(default_factory=list)
    """Paced: the selected registration's wake-up latency (guest write → reader running)."""
    traced: dict[str, str] | None = None
    """Per doorbell row key, the tracepoints' verdict (None: not traced; traced_witness.py)."""

    def can_replace(self, message: Message) -> bool:
        """A newer snapshot makes an unhandled older one worthless."""
        return isinstance(message, SnapshotReady)


# ------------------------------------------------------------------ outcomes
# Plain data, not messages: what one engine call did, carried by `EngineDone`.


@dataclass(frozen=True)
class RegistrationAdded:
    """The kernel accepted a registration."""

    reg_id: int
    spec: RegistrationSpec
    completion: str | None = None  # its completion's route ("msi", "pin"), None: none
    vcpus: tuple[int, int] | None = None  # two vCPUs: (kicker, target) of its completion


@dataclass(frozen=True)
class RegistrationRefused:
    """The engine or the kernel refused a registration or a zone (one-line `message`)."""

    spec: RegistrationSpec | ZoneSpec
    message: str
    field: str | None
    title: str = "Registration rejected"


@dataclass(frozen=True)
class RegistrationRemoved:
    """A registration was deassigned; `final` holds its drained counts."""

    final: RegistrationStats


@dataclass(frozen=True)
class ZoneAdded:
    """The kernel accepted a coalesced zone."""

    zone_id: int
    spec: ZoneSpec


@dataclass(frozen=True)
class ZoneRemoved:
    """A coalesced zone was unregistered; `final` holds its counts (the ring drained first)."""

    final: ZoneStats


@dataclass(frozen=True)
class GuestPaused:
    """The guest parked; `exact` is False when it had to be kicked."""

    exact: bool


@dataclass(frozen=True)
class GuestResumed:
    """The guest rings again."""


@dataclass(frozen=True)
class CountersReset:
    """Every count and histogram went back to zero."""


@dataclass(frozen=True)
class ReaderChanged:
    """The eventfd reader is now this mode: one of `READERS` ("none", "poll", "epoll")."""

    mode: str


@dataclass(frozen=True)
class DrainChanged:
    """The coalesced ring is now drained this way: "exits" or "thread"."""

    mode: str


@dataclass(frozen=True)
class PinningChanged:
    """CPU pinning is now `pinning` (the engine's text; None: not pinned).

    `refused` is the one-line reason when pinning was asked for and refused.
    """

    pinning: str | None
    refused: str | None = None


@dataclass(frozen=True)
class PaceChanged:
    """The ring plan is now paced every `pace_us` µs (None: flat out)."""

    pace_us: float | None


@dataclass(frozen=True)
class VcpusChanged:
    """A new VM with `vcpus` vCPUs took over; registrations were made again.

    Attributes:
        renumbered: old registration id -> its id in the new VM.
        pace_dropped: paced mode was on and is now off (it runs on one vCPU).
        completions_dropped: old ids of registrations whose completion the new VM
            could not take.
        dropped_why: the new VM's first refusal, one line ("" when none was).
    """

    vcpus: int
    registrations: dict[int, RegistrationSpec]
    renumbered: dict[int, int] = field(default_factory=dict)
    pace_dropped: bool = False
    completions_dropped: tuple[int, ...] = ()
    dropped_why: str = ""


@dataclass(frozen=True)
class PlanChanged:
    """The guest now rings this plan."""

    plan: list[SlotSpec]


@dataclass(frozen=True)
class PlanRejected:
    """A ring plan was refused (one-line `message`); the guest rings the plan it had.

    `restore_failed` is set when putting the old plan back failed too.
    """

    message: str
    restore_failed: str | None = None


@dataclass(frozen=True)
class DeviceWorkChanged:
    """Registration #reg_id's device now spins `work_us` µs before each answer."""

    reg_id: int
    work_us: float


Outcome = (
    RegistrationAdded
    | RegistrationRefused
    | RegistrationRemoved
    | ZoneAdded
    | ZoneRemoved
    | GuestPaused
    | GuestResumed
    | CountersReset
    | ReaderChanged
    | DrainChanged
    | PinningChanged
    | PaceChanged
    | VcpusChanged
    | PlanChanged
    | PlanRejected
    | DeviceWorkChanged
)
"""Everything an engine call can report when it ran."""


@dataclass
class EngineDone(Message):
    """An engine call ran; `outcome` says what it did."""

    outcome: Outcome


@dataclass
class EngineFailed(Message):
    """A recoverable engine error while doing `action`; shown as a toast titled `title`."""

    action: str
    message: str
    title: str


Report = LabStarted | LabFailed | SnapshotReady | EngineDone | EngineFailed
"""Everything the session reports to the app."""
