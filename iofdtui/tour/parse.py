"""Read a tour from TOML and validate all of it before the first step runs.

A tour file is untrusted input: its size, its number of steps and checks and
the length of every text are bounded, every key is known, every value has its
type and range, and a name is used only after the step that gives it.  The
first problem found is raised as one `TourError` line naming the file, the
step and the key, e.g.::

    my.toml: step 3 ("Pause"), check 1: unknown key 'cont' (known: count, ...)

The format (every key; see also `default.toml`, the tour the app ships)::

    [tour]
    title = "ioeventfd, step by step"   # required
    seconds = 2.0                       # each step's window (0.5 to 60), default 2.0
    settle = 0.25                       # wait after an action (0 to 10), default 0.25

    [[step]]
    title = "A doorbell that exits"     # required, up to 80 characters
    text = "What will happen and why."  # required, up to 2,000 characters
    seconds = 3.0                       # optional: this step's own window
    settle = 0.5                        # optional
    action = { do = "add", bus = "pio", addr = 0x0600, width = 1, name = "door" }

    [[step.check]]                      # one or more
    expect = "stops"
    count = "exits"
    doorbell = "pio 0x0600"

Actions (`do`, default "watch": none): `add` (bus, addr, width, optional
trigger, name), `remove` (name), `pause`, `resume`, `reset`, `reader` (mode:
none, poll or epoll), `pace` (on: true or false), `plan` (slots: "demo", or a
list of {bus, addr, width, value, weight}).

Checks (`expect`): `grows` (optional least, default 1), `flat`, `stops`
(grew before the action, +0 after), `rate_close` (like = {count, target,
window}, tolerance 0 to 1: a fraction of the larger rate; each side may say
window = "before" or "after"), `share_close` (the same keys: the share of the
guest's rings each side took, which the plan fixes whatever the machine's
load), `exact`, `state` (is: running or paused),
`reader` (is: none, poll or epoll).  The counting checks take `count`
(signals, exits or rings) of a target: `registration = "name"` (signals,
rings), `doorbell = "pio 0x0600"` (signals, exits, rings), or neither: the
whole guest (rings).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from iofdtui.engine.demo import demo_plan
from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec, SpecError
from iofdtui.engine.snapshot import READERS
from iofdtui.tour.schema import (
    ACTIONS,
    COUNTS,
    EXPECTS,
    TARGET_COUNTS,
    WINDOWS,
    Action,
    Add,
    AtDoorbell,
    Check,
    Exact,
    Flat,
    Grows,
    OnRegistration,
    Pace,
    Pause,
    Plan,
    RateClose,
    Reader,
    ReaderIs,
    Remove,
    Reset,
    Resume,
    Series,
    ShareClose,
    StateIs,
    Step,
    Stops,
    Target,
    Tour,
    Watch,
    WholeLab,
)

MAX_FILE_BYTES = 256 * 1024
MAX_STEPS = 64
MAX_CHECKS = 8
MAX_SLOTS = 16
MAX_TITLE = 80
MAX_TEXT = 2000
SECONDS_RANGE = (0.5, 60.0)
SETTLE_RANGE = (0.0, 10.0)
MAX_LEAST = 10**12
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}\Z")
STATES = ("running", "paused")

T = TypeVar("T")


class TourError(ValueError):
    """A tour file that cannot run: one line, naming the file, the step and the key."""


class _Where:
    """Where in the file a value sits, for the one line an error becomes."""

    def __init__(self, source: str, place: str = "") -> None:
        self.source = source
        self.place = place

    def at(self, more: str) -> _Where:
        return _Where(self.source, f"{self.place}, {more}" if self.place else more)

    def fail(self, problem: str) -> TourError:
        where = f"{self.source}: {self.place}" if self.place else self.source
        return TourError(f"{where}: {problem}")


# ------------------------------------------------------------------ reading


def load_tour(path: str | Path) -> Tour:
    """Read and validate the tour at `path` (raises `TourError`, one line)."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise TourError(f"{path}: cannot read it: {reason}") from None
    if len(data) > MAX_FILE_BYTES:
        raise TourError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB: not a tour file")
    return parse_tour(data, str(path))


def parse_tour(data: bytes | str, source: str = "tour") -> Tour:
    """Validate a tour given as TOML text (raises `TourError`, one line)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = data.count(b"\n", 0, err.start) + 1
            raise TourError(f"{source}: not UTF-8 text (line {line})") from None
    try:
        document = tomllib.loads(data)
    except tomllib.TOMLDecodeError as err:
        raise TourError(f"{source}: not valid TOML: {err}") from None
    return _tour(document, _Where(source))


def _tour(document: Mapping[str, Any], where: _Where) -> Tour:
    _known(document, ("tour", "step"), where)
    head = _table(document.get("tour"), where.at("[tour]"), required=True)
    _known(head, ("title", "seconds", "settle"), where.at("[tour]"))
    title = _text(head, "title", MAX_TITLE, where.at("[tour]"))
    seconds = _number(head, "seconds", SECONDS_RANGE, where.at("[tour]"), default=2.0)
    settle = _number(head, "settle", SETTLE_RANGE, where.at("[tour]"), default=0.25)
    steps = document.get("step")
    if not isinstance(steps, list) or not steps:
        raise where.fail("no [[step]]: a tour needs at least one step")
    if len(steps) > MAX_STEPS:
        raise where.fail(f"{len(steps)} steps: at most {MAX_STEPS}")
    names = _Names()
    parsed = []
    for index, raw in enumerate(steps, 1):
        step_where = where.at(f"step {index}")
        table = _table(raw, step_where, required=True)
        label = table.get("title")
        if isinstance(label, str) and label.strip():
            step_where = where.at(f"step {index} ({label.strip()[:MAX_TITLE]!r})")
        parsed.append(_step(table, step_where, seconds, settle, names, index))
    return Tour(title, tuple(parsed), source=where.source)


# -------------------------------------------------------------------- steps


class _Names:
    """The names `add` steps gave, and which step removed each."""

    def __init__(self) -> None:
        self.added: dict[str, int] = {}
        self.removed: dict[str, int] = {}


def _step(
    table: Mapping[str, Any],
    where: _Where,
    seconds: float,
    settle: float,
    names: _Names,
    index: int,
) -> Step:
    _known(table, ("title", "text", "seconds", "settle", "action", "check"), where)
    title = _text(table, "title", MAX_TITLE, where)
    text = _text(table, "text", MAX_TEXT, where)
    own_seconds = _number(table, "seconds", SECONDS_RANGE, where, default=seconds)
    own_settle = _number(table, "settle", SETTLE_RANGE, where, default=settle)
    action: Action = Watch()
    if "action" in table:
        action = _action(_table(table["action"], where.at("action")), where.at("action"))
    match action:
        case Add(_, name) if name in names.added:
            raise where.at("action").fail(f"name '{name}' was given by step {names.added[name]}")
        case Add(_, name):
            names.added[name] = index
        case Remove(name):
            _known_name(name, names, where.at("action"))
            names.removed[name] = index
    raw_checks = table.get("check")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise where.fail("no [[step.check]]: every step checks that its effect happened; add one")
    if len(raw_checks) > MAX_CHECKS:
        raise where.fail(f"{len(raw_checks)} checks: at most {MAX_CHECKS}")
    checks = []
    for number, raw in enumerate(raw_checks, 1):
        check_where = where.at(f"check {number}")
        checks.append(_check(_table(raw, check_where, required=True), check_where, names))
    return Step(title, text, action, tuple(checks), own_seconds, own_settle)


def _known_name(name: str, names: _Names, where: _Where) -> None:
    if name not in names.added:
        raise where.fail(f"no earlier step registers a name '{name}' (add it with do = \"add\")")
    if name in names.removed:
        raise where.fail(f"'{name}' was removed by step {names.removed[name]} already")


# ------------------------------------------------------------------ actions


def _action(table: Mapping[str, Any], where: _Where) -> Action:
    do = table.get("do", "watch")
    if do not in ACTIONS:
        raise where.fail(f"do = {do!r}: must be one of {', '.join(ACTIONS)}")
    keys = {
        "watch": (),
        "add": ("bus", "addr", "width", "trigger", "name"),
        "remove": ("name",),
        "pause": (),
        "resume": (),
        "reset": (),
        "reader": ("mode",),
        "pace": ("on",),
        "plan": ("slots",),
    }[do]
    _known(table, ("do", *keys), where)
    match do:
        case "add":
            return _add(table, where)
        case "remove":
            return Remove(_name(table, where))
        case "pause":
            return Pause()
        case "resume":
            return Resume()
        case "reset":
            return Reset()
        case "reader":
            return Reader(_choice(table, "mode", READERS, where))
        case "pace":
            return Pace(_get(table, "on", bool, "true or false", where))
        case "plan":
            return _plan(table, where)
    return Watch()


def _add(table: Mapping[str, Any], where: _Where) -> Add:
    bus = Bus(_choice(table, "bus", tuple(b.value for b in Bus), where))
    addr = _integer(table, "addr", where)
    width = _integer(table, "width", where)
    trigger = _integer(table, "trigger", where) if "trigger" in table else None
    name = _name(table, where)
    spec = _spec(partial(RegistrationSpec, bus, addr, width, trigger), where)
    return Add(spec, name)


def _spec(make: Callable[[], T], where: _Where) -> T:
    """Build a spec and run its own validation; its refusal names the key."""
    try:
        spec = make()
        spec.validate()  # type: ignore[attr-defined]
    except SpecError as err:
        raise where.at(err.field).fail(str(err)) from None
    return spec


def _plan(table: Mapping[str, Any], where: _Where) -> Plan:
    slots = table.get("slots")
    if slots == "demo":
        return Plan(tuple(demo_plan()), demo=True)
    if not isinstance(slots, list) or not slots:
        raise where.fail('slots: must be "demo" or a list of {bus, addr, width, value, weight}')
    if len(slots) > MAX_SLOTS:
        raise where.fail(f"slots: {len(slots)} writes: at most {MAX_SLOTS}")
    built = []
    for number, raw in enumerate(slots, 1):
        slot_where = where.at(f"slot {number}")
        slot = _table(raw, slot_where, required=True)
        _known(slot, ("bus", "addr", "width", "value", "weight"), slot_where)
        bus = Bus(_choice(slot, "bus", tuple(b.value for b in Bus), slot_where))
        addr, width = _integer(slot, "addr", slot_where), _integer(slot, "width", slot_where)
        value = _integer(slot, "value", slot_where)
        weight = _integer(slot, "weight", slot_where) if "weight" in slot else 32
        built.append(_spec(partial(SlotSpec, bus, addr, width, value, weight), slot_where))
    return Plan(tuple(built))


# ------------------------------------------------------------------- checks


def _check(table: Mapping[str, Any], where: _Where, names: _Names) -> Check:
    expect = table.get("expect")
    if expect not in EXPECTS:
        raise where.fail(f"expect = {expect!r}: must be one of {', '.join(EXPECTS)}")
    series_keys = ("count", "registration", "doorbell")
    keys = {
        "grows": (*series_keys, "least"),
        "flat": series_keys,
        "stops": series_keys,
        "rate_close": (*series_keys, "window", "like", "tolerance"),
        "share_close": (*series_keys, "window", "like", "tolerance"),
        "exact": (),
        "state": ("is",),
        "reader": ("is",),
    }[expect]
    _known(table, ("expect", *keys), where)
    match expect:
        case "exact":
            return Exact()
        case "state":
            return StateIs(_choice(table, "is", STATES, where))
        case "reader":
            return ReaderIs(_choice(table, "is", READERS, where))
    windowed = expect in ("rate_close", "share_close")
    series = _series(table, where, names, windowed)
    match expect:
        case "grows":
            least = _integer(table, "least", where) if "least" in table else 1
            if not 1 <= least <= MAX_LEAST:
                raise where.at("least").fail(f"must be 1 to {MAX_LEAST:,}, got {least}")
            return Grows(series, least)
        case "flat":
            return Flat(series)
        case "stops":
            return Stops(series)
    like_where = where.at("like")
    like_table = _table(table.get("like"), like_where, required=True)
    _known(like_table, (*series_keys, "window"), like_where)
    like = _series(like_table, like_where, names, windowed=True)
    tolerance = _number(table, "tolerance", (0.0, 1.0), where, default=None)
    if series == like:
        raise where.fail("like: compares the count with itself; name another count or window")
    if expect == "share_close":
        return ShareClose(series, like, tolerance)
    return RateClose(series, like, tolerance)


def _series(table: Mapping[str, Any], where: _Where, names: _Names, windowed: bool) -> Series:
    count = _choice(table, "count", COUNTS, where)
    if "registration" in table and "doorbell" in table:
        raise where.fail("give registration or doorbell, not both")
    target: Target
    if "registration" in table:
        name = _name(table, where, "registration")
        if name not in names.added:
            raise where.at("registration").fail(f"no step up to this one registers a name '{name}'")
        target = OnRegistration(name)
    elif "doorbell" in table:
        target = _doorbell(table["doorbell"], where.at("doorbell"))
    else:
        target = WholeLab()
    allowed = TARGET_COUNTS[type(target)]
    if count not in allowed:
        whose = {OnRegistration: "a registration", AtDoorbell: "a doorbell"}.get(
            type(target), "the whole guest (no registration or doorbell given)"
        )
        raise where.at("count").fail(f"{count!r}: {whose} has {', '.join(allowed)}")
    window = _choice(table, "window", WINDOWS, where) if windowed and "window" in table else "after"
    return Series(count, target, window)  # type: ignore[arg-type]


def _doorbell(value: object, where: _Where) -> AtDoorbell:
    parts = value.split() if isinstance(value, str) else []
    if len(parts) != 2 or parts[0].lower() not in ("pio", "mmio"):
        raise where.fail(f'{value!r}: must be "<pio|mmio> <address>", e.g. "pio 0x0600"')
    try:
        addr = int(parts[1], 0)
    except ValueError:
        raise where.fail(f"{parts[1]!r} is not an address (e.g. 0x0600)") from None
    bus = Bus(parts[0].lower())
    limit = 0xFFFF if bus is Bus.PIO else 0xFFFF_FFFF_FFFF_FFFF
    if not 0 <= addr <= limit:
        raise where.fail(f"{addr:#x} is outside the {bus.value.upper()} space (0..{limit:#x})")
    return AtDoorbell(bus, addr)


# ------------------------------------------------------------------- values


def _known(table: Mapping[str, Any], keys: tuple[str, ...], where: _Where) -> None:
    for key in table:
        if key not in keys:
            known = ", ".join(sorted(keys)) or "none"
            raise where.fail(f"unknown key {key!r} (known: {known})")


def _table(value: object, where: _Where, required: bool = False) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if value is None:
        raise where.fail("is missing: it must be a table")
    if not isinstance(value, dict):
        raise where.fail(f"must be a table, not {_kind(value)}")
    return value


def _get(table: Mapping[str, Any], key: str, kind: type[T], what: str, where: _Where) -> T:
    if key not in table:
        raise where.fail(f"missing {key!r} ({what})")
    value = table[key]
    # bool is an int in Python, not in TOML: never take one for the other.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise where.at(key).fail(f"must be {what}, not {_kind(value)} {value!r}")
    return value


def _text(table: Mapping[str, Any], key: str, limit: int, where: _Where) -> str:
    value = _get(table, key, str, "text", where).strip()
    if not value:
        raise where.at(key).fail("is empty")
    if len(value) > limit:
        raise where.at(key).fail(f"{len(value):,} characters: at most {limit:,}")
    if any(ord(c) < 32 and c not in "\n\t" for c in value):
        raise where.at(key).fail("holds control characters")
    return value


def _integer(table: Mapping[str, Any], key: str, where: _Where) -> int:
    return _get(table, key, int, "an integer (0x-prefixed hex is fine)", where)


def _number(
    table: Mapping[str, Any],
    key: str,
    bounds: tuple[float, float],
    where: _Where,
    default: float | None,
) -> float:
    if key not in table and default is not None:
        return default
    value = _get(table, key, (int, float), "a number", where)  # type: ignore[arg-type]
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise where.at(key).fail(f"must be {low:g} to {high:g}, got {value!r}")
    return float(value)


def _choice(table: Mapping[str, Any], key: str, choices: tuple[str, ...], where: _Where) -> str:
    value = _get(table, key, str, f"one of {', '.join(choices)}", where)
    if value not in choices:
        raise where.at(key).fail(f"{value!r}: must be one of {', '.join(choices)}")
    return value


def _name(table: Mapping[str, Any], where: _Where, key: str = "name") -> str:
    value = _get(table, key, str, "a name", where)
    if not NAME.match(value):
        raise where.at(key).fail(
            f"{value!r}: a name is a letter, then up to 31 letters, digits, - or _"
        )
    return value


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "text",
        list: "an array",
        dict: "a table",
    }.get(type(value), "something else")
