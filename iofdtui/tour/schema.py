"""A guided tour as data: its steps, the one action each takes, and the checks on its effect.

The vocabulary is closed on purpose: every action is one of the app's engine
calls, and every check is a claim about counts the snapshots already carry
(`Snapshot`, `DoorbellStats`, `RegistrationStats`), so a tour file can say
nothing the tour cannot verify.  `parse.py` builds these from TOML;
`checks.py` evaluates them; `run.py` walks a tour through its steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, format_addr

Count = Literal["signals", "exits", "rings"]
"""What a check counts: eventfd signals, userspace exits, or guest rings."""

Window = Literal["before", "after"]
"""Which readings a series is taken over: before the step's action, or after it."""

COUNTS: tuple[Count, ...] = ("signals", "exits", "rings")
WINDOWS: tuple[Window, ...] = ("before", "after")


# ------------------------------------------------------------------ targets


@dataclass(frozen=True, slots=True)
class OnRegistration:
    """A registration the tour made, by the name its `add` step gave it."""

    name: str

    def describe(self) -> str:
        """`'door'`, as verdicts name it (with its id once known: see checks.py)."""
        return f"'{self.name}'"


@dataclass(frozen=True, slots=True)
class AtDoorbell:
    """A doorbell (bus and address): every ring there, whoever serves it."""

    bus: Bus
    addr: int

    def describe(self) -> str:
        """`pio 0x0600`."""
        return f"{self.bus.value} {format_addr(self.bus, self.addr)}"


@dataclass(frozen=True, slots=True)
class WholeLab:
    """Every doorbell at once (only `rings`: the guest's total)."""

    def describe(self) -> str:
        """`the guest`."""
        return "the guest"


Target = OnRegistration | AtDoorbell | WholeLab

TARGET_COUNTS: dict[type, tuple[Count, ...]] = {
    OnRegistration: ("signals", "rings"),  # rings: those the engine attributes to it
    AtDoorbell: ("signals", "exits", "rings"),
    WholeLab: ("rings",),
}
"""Which counts each kind of target has."""


@dataclass(frozen=True, slots=True)
class Series:
    """One count on one target over one window of readings."""

    count: Count
    target: Target
    window: Window = "after"

    def describe(self) -> str:
        """`signals on 'door'`, `exits at pio 0x0600`, `rings of the guest`."""
        joiner = {OnRegistration: "on", AtDoorbell: "at", WholeLab: "of"}[type(self.target)]
        return f"{self.count} {joiner} {self.target.describe()}"


# ------------------------------------------------------------------- checks


@dataclass(frozen=True, slots=True)
class Grows:
    """The count grew by at least `least` over the step's window after the action."""

    series: Series
    least: int = 1


@dataclass(frozen=True, slots=True)
class Flat:
    """The count did not move after the action (+0)."""

    series: Series


@dataclass(frozen=True, slots=True)
class Stops:
    """The count grew before the action and not at all after it."""

    series: Series


@dataclass(frozen=True, slots=True)
class RateClose:
    """`series` grows at the rate of `like`, within `tolerance` (a fraction of the larger).

    `like` may be taken over the window before the action (the rate a path
    had) or the same window after it (two counts of the same rings).
    """

    series: Series
    like: Series
    tolerance: float


@dataclass(frozen=True, slots=True)
class ShareClose:
    """`series` takes the share of the guest's rings (over its own window) that `like`
    took, within `tolerance` (a fraction of the larger share).

    The plan fixes each doorbell's share of the rings, so a share compared across
    the action holds however the machine's load moves the rates meanwhile.
    """

    series: Series
    like: Series
    tolerance: float


@dataclass(frozen=True, slots=True)
class Exact:
    """A checkpoint taken since the step began holds: rings = signals + exits everywhere."""


@dataclass(frozen=True, slots=True)
class StateIs:
    """The guest's state after the action: "running" or "paused"."""

    state: str


@dataclass(frozen=True, slots=True)
class ReaderIs:
    """The eventfd reader after the action: "none", "poll" or "epoll"."""

    reader: str


Check = Grows | Flat | Stops | RateClose | ShareClose | Exact | StateIs | ReaderIs

EXPECTS: dict[str, type] = {
    "grows": Grows,
    "flat": Flat,
    "stops": Stops,
    "rate_close": RateClose,
    "share_close": ShareClose,
    "exact": Exact,
    "state": StateIs,
    "reader": ReaderIs,
}
"""A check's `expect` key, and what it builds."""


def needs_before(check: Check) -> bool:
    """Whether the check reads the window before the action (then the tour waits for one)."""
    if isinstance(check, Stops):
        return True
    if isinstance(check, RateClose | ShareClose):
        return "before" in (check.series.window, check.like.window)
    return False


# ------------------------------------------------------------------ actions


@dataclass(frozen=True, slots=True)
class Add:
    """Register an ioeventfd; later steps call it `name`."""

    spec: RegistrationSpec
    name: str


@dataclass(frozen=True, slots=True)
class Remove:
    """Deassign the registration an earlier `add` called `name`."""

    name: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Park the guest at a quiescent point (a checkpoint is taken)."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Let the guest ring again."""


@dataclass(frozen=True, slots=True)
class Reset:
    """Zero every count and histogram."""


@dataclass(frozen=True, slots=True)
class Reader:
    """Read the eventfds with `mode`: "none", "poll" or "epoll"."""

    mode: str


@dataclass(frozen=True, slots=True)
class Pace:
    """Pace the plan as `w` does (one ring every 100 µs), or ring flat out (`on` False)."""

    on: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """The guest rings these writes (every vCPU the same plan)."""

    slots: tuple[SlotSpec, ...]
    demo: bool = False  # the demo's own plan, as the app opens on


@dataclass(frozen=True, slots=True)
class Watch:
    """No action: just watch the counts."""


Action = Add | Remove | Pause | Resume | Reset | Reader | Pace | Plan | Watch

ACTIONS: tuple[str, ...] = (
    "watch",
    "add",
    "remove",
    "pause",
    "resume",
    "reset",
    "reader",
    "pace",
    "plan",
)
"""An action's `do` key."""


def describe_action(action: Action) -> str:
    """What the step does, in a few words (the panel's 'Action:' line before it runs)."""
    match action:
        case Add(spec, name):
            return f"register {spec.describe()} as '{name}'"
        case Remove(name):
            return f"remove '{name}'"
        case Pause():
            return "pause the guest"
        case Resume():
            return "resume the guest"
        case Reset():
            return "reset every counter"
        case Reader(mode):
            return f"switch the eventfd reader to {mode}"
        case Pace(on):
            return "pace the plan (one ring every 100 µs)" if on else "ring flat out"
        case Plan(slots, demo):
            if demo:
                return "ring the demo plan"
            return "ring " + ", ".join(slot.describe() for slot in slots)
    return "watch the counts"


# -------------------------------------------------------------------- steps


@dataclass(frozen=True, slots=True)
class Step:
    """One step: what it says, the action it takes, and what it then checks.

    Attributes:
        title: a few words (the panel's heading).
        text: what will happen and why, shown before and while it happens.
        action: the one engine call it makes (`Watch`: none).
        checks: claims about the counts after the action; all must hold.
        seconds: how long the readings after the action (and before it,
            for checks that compare) must span.
        settle: seconds after the action before its window opens.
    """

    title: str
    text: str
    action: Action
    checks: tuple[Check, ...]
    seconds: float
    settle: float

    @property
    def needs_before(self) -> bool:
        """Whether a check reads the window before the action."""
        return any(needs_before(check) for check in self.checks)


@dataclass(frozen=True, slots=True)
class Tour:
    """A whole tour: a title and its steps, in order."""

    title: str
    steps: tuple[Step, ...]
    source: str = field(default="", compare=False)  # the file's name, for messages
