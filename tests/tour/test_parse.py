"""Tour files: the shipped one parses; every bad one is refused in one line naming step and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from iofdtui import cli
from iofdtui.engine.model import Bus, RegistrationSpec
from iofdtui.tour import TourError, default_tour, load_tour, parse_tour
from iofdtui.tour.schema import (
    Add,
    AtDoorbell,
    Exact,
    Grows,
    OnRegistration,
    Plan,
    RateClose,
    Remove,
    Series,
    ShareClose,
    Stops,
    Watch,
)

HEAD = '[tour]\ntitle = "t"\n'
STEP = '[[step]]\ntitle = "s"\ntext = "x"\n'
CHECK = '[[step.check]]\nexpect = "exact"\n'


def test_the_shipped_tour() -> None:
    tour = default_tour()
    assert len(tour.steps) == 10
    first, second = tour.steps[0], tour.steps[1]
    assert isinstance(first.action, Plan) and first.action.demo
    assert second.action == Add(RegistrationSpec(Bus.PIO, 0x0600, 1), "door")
    assert Stops(Series("exits", AtDoorbell(Bus.PIO, 0x0600))) in second.checks
    assert second.needs_before and not first.needs_before
    assert second.seconds == 2.0 and second.settle == 0.25
    rate, share = second.checks[-2:]
    assert isinstance(rate, RateClose) and rate.like.window == "after" and rate.tolerance == 0.05
    assert isinstance(share, ShareClose) and share.like.window == "before"
    assert share.tolerance == 0.1
    assert tour.steps[-2].action == Remove("door")
    assert Exact() in tour.steps[-1].checks


def test_a_minimal_tour_and_the_defaults() -> None:
    tour = parse_tour(HEAD + "seconds = 3\n" + STEP + "settle = 0\n" + CHECK)
    [step] = tour.steps
    assert step.action == Watch() and step.checks == (Exact(),)
    assert (step.seconds, step.settle) == (3.0, 0.0)


def test_names_given_by_add_are_used_by_later_steps() -> None:
    tour = parse_tour(
        HEAD
        + STEP
        + 'action = { do = "add", bus = "mmio", addr = 0xfe0ff000, width = 4, trigger = 7,'
        + ' name = "m" }\n'
        + '[[step.check]]\nexpect = "grows"\ncount = "signals"\nregistration = "m"\nleast = 5\n'
        + STEP
        + 'action = { do = "remove", name = "m" }\n'
        + CHECK
    )
    add, remove = (s.action for s in tour.steps)
    assert add == Add(RegistrationSpec(Bus.MMIO, 0xFE0F_F000, 4, 7), "m")
    assert tour.steps[0].checks == (Grows(Series("signals", OnRegistration("m")), 5),)
    assert remove == Remove("m")


def step_with(action: str = "", check: str = 'expect = "exact"\n') -> str:
    return HEAD + STEP + action + "[[step.check]]\n" + check


BAD = [
    ("[tour]\ntitle = =\n", "t: not valid TOML: Invalid value (at line 2, column 9)"),
    (HEAD, "t: no [[step]]: a tour needs at least one step"),
    ('[tour]\ntitle = "t"\ncolour = 1\n' + STEP + CHECK, "t: [tour]: unknown key 'colour'"),
    ("[[step]]\n" + CHECK, "t: [tour]: is missing: it must be a table"),
    (HEAD + '[tour]\n"seconds" = 0.1', "t: not valid TOML"),
    (HEAD + "seconds = 0.1\n" + STEP + CHECK, "t: [tour], seconds: must be 0.5 to 60, got 0.1"),
    (HEAD + STEP, "t: step 1 ('s'): no [[step.check]]: every step checks"),
    (HEAD + '[[step]]\ntitle = "s"\n' + CHECK, "t: step 1 ('s'): missing 'text' (text)"),
    (HEAD + STEP + 'txt = "y"\n' + CHECK, "t: step 1 ('s'): unknown key 'txt' (known: action,"),
    (HEAD + '[[step]]\ntitle = 5\ntext = "x"\n' + CHECK, "t: step 1, title: must be text, not an"),
    (step_with('action = { do = "jump" }\n'), "step 1 ('s'), action: do = 'jump': must be one of"),
    (
        step_with('action = { do = "add", bus = "pio", addr = 0x600, width = 3, name = "d" }\n'),
        "step 1 ('s'), action, width: width must be 1, 2, 4 or 8 bytes",
    ),
    (
        step_with('action = { do = "add", bus = "pio", addr = "0x600", width = 1, name = "d" }\n'),
        "action, addr: must be an integer (0x-prefixed hex is fine), not text '0x600'",
    ),
    (
        step_with('action = { do = "add", bus = "pio", addr = 0x600, width = 1, name = "1d" }\n'),
        "action, name: '1d': a name is a letter, then up to 31 letters, digits, - or _",
    ),
    (
        step_with('action = { do = "add", bus = "pio", addr = 0x600, width = 1 }\n'),
        "step 1 ('s'), action: missing 'name' (a name)",
    ),
    (step_with('action = { do = "remove", name = "d" }\n'), "no earlier step registers a name 'd'"),
    (step_with('action = { do = "reader", mode = "spin" }\n'), "action, mode: 'spin': must be"),
    (step_with('action = { do = "pace", on = 1 }\n'), "action, on: must be true or false, not an"),
    (step_with('action = { do = "plan", slots = [] }\n'), 'action: slots: must be "demo" or'),
    (
        step_with(
            'action = { do = "plan", slots = [{ bus = "pio", addr = 0x600, width = 8,'
            " value = 0 }] }\n"
        ),
        "action, slot 1, width: a PIO write is 1, 2 or 4 bytes wide",
    ),
    (
        step_with('action = { do = "pause", mode = "x" }\n'),
        "action: unknown key 'mode' (known: do)",
    ),
    (
        step_with(check='expect = "rises"\n'),
        "check 1: expect = 'rises': must be one of grows, flat",
    ),
    (step_with(check='expect = "grows"\n'), "check 1: missing 'count' (one of signals, exits,"),
    (
        step_with(check='expect = "grows"\ncount = "exits"\nregistration = "d"\n'),
        "check 1, registration: no step up to this one registers a name 'd'",
    ),
    (
        step_with(check='expect = "grows"\ncount = "exits"\n'),
        "check 1, count: 'exits': the whole guest (no registration or doorbell given) has rings",
    ),
    (
        step_with(check='expect = "flat"\ncount = "exits"\ndoorbell = "port 0x600"\n'),
        "check 1, doorbell: 'port 0x600': must be \"<pio|mmio> <address>\"",
    ),
    (
        step_with(check='expect = "flat"\ncount = "exits"\ndoorbell = "pio 0x10000"\n'),
        "check 1, doorbell: 0x10000 is outside the PIO space",
    ),
    (
        step_with(check='expect = "grows"\ncount = "rings"\nleast = 0\n'),
        "check 1, least: must be 1 to 1,000,000,000,000, got 0",
    ),
    (
        step_with(check='expect = "rate_close"\ncount = "rings"\ntolerance = 0.1\n'),
        "check 1, like: is missing: it must be a table",
    ),
    (
        step_with(check='expect = "rate_close"\ncount = "rings"\nlike = { count = "rings" }\n'),
        "check 1: missing 'tolerance' (a number)",
    ),
    (
        step_with(
            check='expect = "rate_close"\ncount = "rings"\nlike = { count = "rings" }\n'
            "tolerance = 0.5\n"
        ),
        "check 1: like: compares the count with itself",
    ),
    (
        step_with(
            check='expect = "rate_close"\ncount = "rings"\ntolerance = 2\n'
            'like = { count = "rings", window = "before" }\n'
        ),
        "check 1, tolerance: must be 0 to 1, got 2",
    ),
    (step_with(check='expect = "state"\nis = "asleep"\n'), "check 1, is: 'asleep': must be one of"),
    (step_with(check='expect = "exact"\ncount = "rings"\n'), "check 1: unknown key 'count'"),
    (HEAD + STEP + CHECK * 9, "step 1 ('s'): 9 checks: at most 8"),
    (HEAD + (STEP + CHECK) * 65, "t: 65 steps: at most 64"),
    (HEAD + '[[step]]\ntitle = "s"\ntext = "' + "x" * 2001 + '"\n' + CHECK, "text: 2,001"),
    (HEAD + '[[step]]\ntitle = "s"\ntext = "a\\u0007"\n' + CHECK, "text: holds control characters"),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_tour_is_one_line_naming_where(text: str, expected: str) -> None:
    with pytest.raises(TourError) as caught:
        parse_tour(text, "t")
    message = str(caught.value)
    assert "\n" not in message
    assert expected in message, message


def test_a_name_given_twice_or_removed_twice() -> None:
    add = 'action = { do = "add", bus = "pio", addr = 0x600, width = 1, name = "d" }\n'
    with pytest.raises(TourError, match=r"step 2 \('s'\), action: name 'd' was given by step 1"):
        parse_tour(HEAD + STEP + add + CHECK + STEP + add + CHECK, "t")
    remove = 'action = { do = "remove", name = "d" }\n'
    with pytest.raises(TourError, match="'d' was removed by step 2 already"):
        parse_tour(HEAD + STEP + add + CHECK + (STEP + remove + CHECK) * 2, "t")


def test_files_too_big_not_utf8_or_missing(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (256 * 1024 + 1))
    with pytest.raises(TourError, match=r"/big\.toml: larger than 256 KiB: not a tour file$"):
        load_tour(big)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[tour]\ntitle = "caf\xe9"\n')
    with pytest.raises(TourError, match=r"/latin\.toml: not UTF-8 text \(line 2\)$"):
        load_tour(latin)
    missing = r"nowhere\.toml: cannot read it: No such file or directory"
    with pytest.raises(TourError, match=missing):
        load_tour(tmp_path / "nowhere.toml")


def test_iofdtui_tour_refuses_a_bad_file_before_any_vm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "mine.toml"
    bad.write_text(step_with('action = { do = "reader", mode = "spin" }\n'))
    assert cli.main(["tour", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"iofdtui: {bad}: step 1 ('s'), action, mode: 'spin': must be one of none, poll, epoll\n"
    )
