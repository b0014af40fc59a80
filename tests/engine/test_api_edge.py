"""The engine API's edge, fuzzed with real ioctls: wrong types, out-of-range
values, and every call after `close()`.

Every refusal is a `ValueError` (`SpecError` is one) or an `EngineError`
(`RegistrationRejected` is one) with a one-line message: never a raw cffi
`OverflowError`/`TypeError`, a bare `OSError`, or a crash.  A refused call
changes nothing: the plan, the registrations, the consumer and the pace are
what they were, the guest still rings, and the next checkpoint still holds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest

from iofdtui.engine.errors import EngineError
from iofdtui.engine.model import (
    GUEST_RAM_SIZE,
    MAX_SLOTS,
    MAX_WEIGHT,
    Bus,
    RegistrationSpec,
    SlotSpec,
)
from iofdtui.engine.native import lib

pytestmark = pytest.mark.kvm

PORT = 0x3F8
MMIO = 0xFE00_0000
FOUR_GIB = 1 << 32
U64_MAX = (1 << 64) - 1
SCRATCH = 0xF_0000  # guest RAM no vCPU area, counter page or code uses (1 or 2 vCPUs)

PLAN = [SlotSpec(Bus.PIO, PORT, 1, 0x42, 4), SlotSpec(Bus.MMIO, MMIO, 4, 0x1, 4)]
REGS = [RegistrationSpec(Bus.PIO, PORT, 1), RegistrationSpec(Bus.MMIO, MMIO, 4, 0x1)]
SPARE_PORT = 0x600  # nothing rings it


@pytest.fixture
def ringing(lab) -> Iterator[object]:
    """A started lab ringing PLAN, with REGS registered as #1 and #2."""
    lab.set_plan(PLAN)
    ids = [lab.add_registration(spec) for spec in REGS]
    assert ids == [1, 2]
    lab.start()
    _rings_grow(lab, {PORT: 0, MMIO: 0})
    assert lab.checkpoint().holds
    yield lab


Call = Callable[[object], object]

# Calls that must be refused: name -> call on a ringing lab.
REFUSED: dict[str, Call] = {
    # add_registration: not a spec at all
    "add: a string": lambda lab: lab.add_registration("pio 0x3f8/1"),
    "add: None": lambda lab: lab.add_registration(None),
    "add: a tuple": lambda lab: lab.add_registration((Bus.PIO, SPARE_PORT, 1)),
    "add: a SlotSpec": lambda lab: lab.add_registration(SlotSpec(Bus.PIO, SPARE_PORT, 1, 0)),
    # add_registration: a spec with a wrong type (refused as it is made)
    "add: bus 'pcie'": lambda lab: lab.add_registration(RegistrationSpec("pcie", SPARE_PORT, 1)),
    "add: addr as text": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, "0x600", 1)),
    "add: width 1.0": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, SPARE_PORT, 1.0)),
    "add: trigger True": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, 1, True)
    ),
    # add_registration: out of range
    "add: addr -1": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, -1, 1)),
    "add: addr 2**64": lambda lab: lab.add_registration(RegistrationSpec(Bus.MMIO, 1 << 64, 1)),
    "add: port 0x10000": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, 0x1_0000, 1)),
    "add: width 3": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, SPARE_PORT, 3)),
    "add: width -1": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, SPARE_PORT, -1)),
    "add: width 2**32": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, 1 << 32)
    ),
    "add: trigger -1": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, 1, -1)
    ),
    "add: trigger 2**64": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.MMIO, MMIO + 8, 8, 1 << 64)
    ),
    "add: mmio wraps": lambda lab: lab.add_registration(RegistrationSpec(Bus.MMIO, U64_MAX, 1)),
    "add: mmio in guest RAM": lambda lab: lab.add_registration(RegistrationSpec(Bus.MMIO, 0, 4)),
    "add: the park port": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, lib.PARK_PORT, 1)
    ),
    "add: pio width 8": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, SPARE_PORT, 8)),
    "add: a duplicate": lambda lab: lab.add_registration(RegistrationSpec(Bus.PIO, PORT, 1)),
    # add_registration(prevalidate=False): what no KVM_IOEVENTFD field can hold
    "add raw: addr -1": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.MMIO, -1, 4), prevalidate=False
    ),
    "add raw: addr 2**64": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.MMIO, 1 << 64, 4), prevalidate=False
    ),
    "add raw: width -1": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, -1), prevalidate=False
    ),
    "add raw: width 2**32": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, 1 << 32), prevalidate=False
    ),
    "add raw: trigger -1": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.PIO, SPARE_PORT, 1, -1), prevalidate=False
    ),
    "add raw: trigger 2**64": lambda lab: lab.add_registration(
        RegistrationSpec(Bus.MMIO, MMIO + 8, 8, 1 << 64), prevalidate=False
    ),
    "add raw: not a spec": lambda lab: lab.add_registration(None, prevalidate=False),
    # remove_registration
    "remove: unknown id": lambda lab: lab.remove_registration(12345),
    "remove: id 0": lambda lab: lab.remove_registration(0),
    "remove: id -1": lambda lab: lab.remove_registration(-1),
    "remove: id 2**70": lambda lab: lab.remove_registration(1 << 70),
    "remove: None": lambda lab: lab.remove_registration(None),
    "remove: 1.5": lambda lab: lab.remove_registration(1.5),
    "remove: 1.0 (not #1)": lambda lab: lab.remove_registration(1.0),
    "remove: True (not #1)": lambda lab: lab.remove_registration(True),
    "remove: [1]": lambda lab: lab.remove_registration([1]),
    # set_plan: slots the guest cannot ring
    "plan: mmio at 4 GiB": lambda lab: lab.set_plan([SlotSpec(Bus.MMIO, FOUR_GIB, 4, 1)]),
    "plan: mmio above 4 GiB": lambda lab: lab.set_plan([SlotSpec(Bus.MMIO, FOUR_GIB + MMIO, 4, 1)]),
    "plan: good + 4 GiB": lambda lab: lab.set_plan([PLAN[0], SlotSpec(Bus.MMIO, 1 << 40, 4, 1)]),
    "plan: mmio 2**64": lambda lab: lab.set_plan([SlotSpec(Bus.MMIO, 1 << 64, 4, 1)]),
    "plan: width 3": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, PORT, 3, 1)]),
    "plan: pio width 8": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, PORT, 8, 1)]),
    "plan: value too wide": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, PORT, 1, 0x100)]),
    "plan: value -1": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, PORT, 1, -1)]),
    "plan: weight -1": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, PORT, 1, 1, -1)]),
    "plan: weight too big": lambda lab: lab.set_plan(
        [SlotSpec(Bus.PIO, PORT, 1, 1, MAX_WEIGHT + 1)]
    ),
    "plan: mmio in guest RAM": lambda lab: lab.set_plan([SlotSpec(Bus.MMIO, 0x1000, 4, 1)]),
    "plan: the park port": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, lib.PARK_PORT, 1, 1)]),
    "plan: a write twice": lambda lab: lab.set_plan([PLAN[0], PLAN[0]]),
    "plan: too many slots": lambda lab: lab.set_plan(
        [SlotSpec(Bus.PIO, 0x700 + i, 1, 0) for i in range(MAX_SLOTS + 1)]
    ),
    "plan: slot with text addr": lambda lab: lab.set_plan([SlotSpec(Bus.PIO, "0x3f8", 1, 0)]),
    # set_plan: not slots / no such vCPU
    "plan: None": lambda lab: lab.set_plan(None),
    "plan: 5": lambda lab: lab.set_plan(5),
    "plan: a string": lambda lab: lab.set_plan("pio 0x3f8"),
    "plan: [None]": lambda lab: lab.set_plan([None]),
    "plan: [tuple]": lambda lab: lab.set_plan([("pio", PORT, 1, 0x42)]),
    "plan: vcpu 1 of 1": lambda lab: lab.set_plan(PLAN, vcpu=1),
    "plan: vcpu -1": lambda lab: lab.set_plan(PLAN, vcpu=-1),
    "plan: vcpu 1.5": lambda lab: lab.set_plan(PLAN, vcpu=1.5),
    "plan: vcpu 0.0": lambda lab: lab.set_plan(PLAN[:1], vcpu=0.0),
    "plan: vcpu '0'": lambda lab: lab.set_plan(PLAN[:1], vcpu="0"),
    "plan: vcpu None": lambda lab: lab.set_plan(PLAN[:1], vcpu=None),
    "plans: none given": lambda lab: lab.set_plans([]),
    "plans: None": lambda lab: lab.set_plans(None),
    "plans: a bad slot": lambda lab: lab.set_plans([[SlotSpec(Bus.MMIO, FOUR_GIB, 4, 1)]]),
    # reading a plan that does not exist
    "plan(): vcpu 1 of 1": lambda lab: lab.plan(1),
    "plan(): vcpu -1": lambda lab: lab.plan(-1),
    "plan(): vcpu '0'": lambda lab: lab.plan("0"),
    # set_consumer
    "consumer: ''": lambda lab: lab.set_consumer(""),
    "consumer: 'busy'": lambda lab: lab.set_consumer("busy"),
    "consumer: None": lambda lab: lab.set_consumer(None),
    "consumer: 1": lambda lab: lab.set_consumer(1),
    "consumer: ['epoll']": lambda lab: lab.set_consumer(["epoll"]),
    # set_pace
    "pace: 0": lambda lab: lab.set_pace(0),
    "pace: -1": lambda lab: lab.set_pace(-1),
    "pace: 0.5": lambda lab: lab.set_pace(0.5),
    "pace: 100_001": lambda lab: lab.set_pace(100_001),
    "pace: inf": lambda lab: lab.set_pace(float("inf")),
    "pace: -inf": lambda lab: lab.set_pace(float("-inf")),
    "pace: nan": lambda lab: lab.set_pace(float("nan")),
    "pace: 1e300": lambda lab: lab.set_pace(1e300),
    "pace: 2**64": lambda lab: lab.set_pace(1 << 64),
    "pace: '100'": lambda lab: lab.set_pace("100"),
    "pace: True": lambda lab: lab.set_pace(True),
    "pace: [100]": lambda lab: lab.set_pace([100]),
    # peek_guest / poke_guest
    "peek: -1": lambda lab: lab.peek_guest(-1),
    "peek: 2**40": lambda lab: lab.peek_guest(1 << 40),
    "peek: 2**32": lambda lab: lab.peek_guest(1 << 32),
    "peek: end of RAM": lambda lab: lab.peek_guest(GUEST_RAM_SIZE),
    "peek: straddles the end": lambda lab: lab.peek_guest(GUEST_RAM_SIZE - 2),
    "peek: unaligned": lambda lab: lab.peek_guest(SCRATCH + 2),
    "peek: '0'": lambda lab: lab.peek_guest("0"),
    "peek: 0.0": lambda lab: lab.peek_guest(0.0),
    "peek: None": lambda lab: lab.peek_guest(None),
    "peek: True": lambda lab: lab.peek_guest(True),
    "poke: -1": lambda lab: lab.poke_guest(-1, 1),
    "poke: 2**40": lambda lab: lab.poke_guest(1 << 40, 1),
    "poke: end of RAM": lambda lab: lab.poke_guest(GUEST_RAM_SIZE, 1),
    "poke: unaligned": lambda lab: lab.poke_guest(SCRATCH + 2, 1),
    "poke: '0'": lambda lab: lab.poke_guest("0", 1),
    "poke: 0.0": lambda lab: lab.poke_guest(float(SCRATCH), 1),
    "poke: value 'x'": lambda lab: lab.poke_guest(SCRATCH, "x"),
    "poke: value None": lambda lab: lab.poke_guest(SCRATCH, None),
    "poke: value 1.5": lambda lab: lab.poke_guest(SCRATCH, 1.5),
    # add_decoys
    "decoys: None": lambda lab: lab.add_decoys(None),
    "decoys: 5": lambda lab: lab.add_decoys(5),
    "decoys: a string": lambda lab: lab.add_decoys("pio"),
    "decoys: [None]": lambda lab: lab.add_decoys([None]),
    "decoys: [1, 2]": lambda lab: lab.add_decoys([1, 2]),
    "decoys: on a rung doorbell": lambda lab: lab.add_decoys([RegistrationSpec(Bus.PIO, PORT, 2)]),
    "decoys: mmio wraps": lambda lab: lab.add_decoys([RegistrationSpec(Bus.MMIO, U64_MAX, 1)]),
    "decoys: a duplicate": lambda lab: lab.add_decoys(
        [RegistrationSpec(Bus.PIO, SPARE_PORT, 1), RegistrationSpec(Bus.PIO, SPARE_PORT, 1)]
    ),
    # lifecycle
    "start: twice": lambda lab: lab.start(),
    "start_bare: None": lambda lab: lab.start_bare(None),
    "start_bare: 4 GiB": lambda lab: lab.start_bare(SlotSpec(Bus.MMIO, FOUR_GIB, 4, 1)),
    "start_bare: while running": lambda lab: lab.start_bare(SlotSpec(Bus.PIO, SPARE_PORT, 1, 1)),
    "pause: -1": lambda lab: lab.pause(-1),
    "pause: nan": lambda lab: lab.pause(float("nan")),
    "pause: inf": lambda lab: lab.pause(float("inf")),
    "pause: 1e10": lambda lab: lab.pause(1e10),
    "pause: '1'": lambda lab: lab.pause("1"),
    "pause: None": lambda lab: lab.pause(None),
    "run_epoch: -1": lambda lab: lab.run_epoch(-1),
    "run_epoch: nan": lambda lab: lab.run_epoch(float("nan")),
    "run_epoch: inf": lambda lab: lab.run_epoch(float("inf")),
    "run_epoch: '1'": lambda lab: lab.run_epoch("1"),
    "run_epoch: warmup -1": lambda lab: lab.run_epoch(0.01, warmup=-1),
    "scribble: 'x'": lambda lab: lab.scribble_guest_counters("x"),
    "scribble: 1.5": lambda lab: lab.scribble_guest_counters(1.5),
    # readings with ids no path has, of the wrong type or out of C's range
    "registration_histogram: [1]": lambda lab: lab.registration_histogram([1]),
    "wake_histogram: [1]": lambda lab: lab.wake_histogram([1]),
    "baseline_histogram: width [1]": lambda lab: lab.baseline_histogram(Bus.PIO, [1]),
}


def _state(lab) -> tuple[object, ...]:
    return (lab.plan(), lab.registrations(), lab.consumer, lab.pace_us)


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert text.strip(), f"{type(err).__name__} with no message"
    assert "\n" not in text, text
    assert "<cdata" not in text, text
    return text


def _rings_grow(lab, since: dict[int, int], timeout: float = 10.0) -> None:
    """Wait until every doorbell in `since` has rung more than it had (no timing asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        now = {door.addr: door.rings for door in lab.snapshot().doorbells}
        if all(now.get(addr, 0) > rings for addr, rings in since.items()):
            return
        assert time.monotonic() < deadline, f"the guest stopped ringing: {now} after {since}"
        time.sleep(0.01)


def _still_works(lab, before: tuple[object, ...]) -> None:
    assert _state(lab) == before
    assert lab.state == "running"
    snap = lab.snapshot()
    assert all(door.live_ok for door in snap.doorbells), snap.doorbells
    checkpoint = lab.checkpoint()
    assert checkpoint.holds, checkpoint
    _rings_grow(lab, {door.addr: door.rings for door in checkpoint.doorbells})


@pytest.mark.parametrize("case", REFUSED, ids=str)
def test_a_bad_call_is_refused_in_one_line_and_changes_nothing(ringing, case: str) -> None:
    lab = ringing
    before = _state(lab)
    scratch = lab.peek_guest(SCRATCH)
    with pytest.raises(Exception) as caught:
        REFUSED[case](lab)
    err = caught.value
    assert isinstance(err, (ValueError, EngineError)), f"{type(err).__name__}: {err}"
    _one_line(err)
    assert lab.peek_guest(SCRATCH) == scratch  # no stray write into guest RAM
    _still_works(lab, before)


def test_the_bare_loop_refuses_a_started_lab_in_one_sentence(ringing) -> None:
    with pytest.raises(EngineError) as caught:
        ringing.start_bare(SlotSpec(Bus.PIO, SPARE_PORT, 1, 1))
    assert caught.value.errno == errno.EBUSY
    assert str(caught.value) == "the bare loop starts a lab that has not started"


def test_a_rejected_plan_keeps_the_old_one_ringing(ringing) -> None:
    """The report: a 4 GiB address killed the live view and emptied the plan."""
    lab = ringing
    with pytest.raises(ValueError) as caught:
        lab.set_plan([PLAN[0], SlotSpec(Bus.MMIO, FOUR_GIB, 4, 1)])
    assert str(caught.value) == (
        "MMIO doorbells must be below 4 GiB: the guest writes 32-bit addresses"
    )
    assert caught.value.field == "addr"
    assert lab.plan() == PLAN
    checkpoint = lab.checkpoint()
    assert checkpoint.holds
    _rings_grow(lab, {door.addr: door.rings for door in checkpoint.doorbells})


def test_good_calls_still_work_after_a_storm_of_bad_ones(ringing) -> None:
    lab = ringing
    for case, call in REFUSED.items():
        if case.startswith(("start", "pause", "run_epoch", "remove: 1.0", "remove: True")):
            continue  # those change state when they are (wrongly) accepted
        with contextlib.suppress(Exception):  # each case's own test judges it
            call(lab)
    lab.set_plan(PLAN)
    spare = lab.add_registration(RegistrationSpec(Bus.PIO, 0x680, 1))
    lab.remove_registration(spare)
    lab.set_consumer("poll")
    lab.set_consumer("epoll")
    assert lab.checkpoint().holds


# -------------------------------------------------------------- after close

# What each call does on a closed lab: "refuse" (LabClosed: an EngineError,
# EBADF, one line); only `state` says "closed", `close()` does nothing and
# `fault()` returns None.
AFTER_CLOSE: dict[str, tuple[str, str]] = {
    "state": ("result = lab.state", "closed"),
    "close()": ("result = lab.close()", "none"),
    "fault()": ("result = lab.fault()", "none"),
    "consumer": ("result = lab.consumer", "refuse"),
    "reader": ("result = lab.reader", "refuse"),
    "pinning": ("result = lab.pinning", "refuse"),
    "pace_us": ("result = lab.pace_us", "refuse"),
    "decoy_count": ("result = lab.decoy_count", "refuse"),
    "wake_note": ("result = lab.wake_note", "refuse"),
    "set_reader()": ("result = lab.set_reader('poll')", "refuse"),
    "set_pinning(True)": ("result = lab.set_pinning(True)", "refuse"),
    "set_pinning(False)": ("result = lab.set_pinning(False)", "refuse"),
    "loop_ns_per_ring()": ("result = lab.loop_ns_per_ring()", "refuse"),
    "reader_histograms(1)": ("result = lab.reader_histograms(1)", "refuse"),
    "tsc_offset_text()": ("result = lab.tsc_offset_text()", "refuse"),
    "scribble_guest_counters()": ("result = lab.scribble_guest_counters()", "refuse"),
    "peek_guest(0)": ("result = lab.peek_guest(0)", "refuse"),
    "poke_guest(0, 1)": ("result = lab.poke_guest(0, 1)", "refuse"),
    "snapshot()": ("result = lab.snapshot()", "refuse"),
    "checkpoint()": ("result = lab.checkpoint()", "refuse"),
    "pause()": ("result = lab.pause()", "refuse"),
    "resume()": ("result = lab.resume()", "refuse"),
    "paused()": ("with lab.paused():\n    result = 'entered'", "refuse"),
    "start()": ("result = lab.start()", "refuse"),
    "start_bare()": ("result = lab.start_bare(SlotSpec(Bus.PIO, 0x600, 1, 1))", "refuse"),
    "stop()": ("result = lab.stop()", "refuse"),
    "run_epoch()": ("result = lab.run_epoch(0.01)", "refuse"),
    "reset_counters()": ("result = lab.reset_counters()", "refuse"),
    "set_consumer()": ("result = lab.set_consumer('poll')", "refuse"),
    "set_pace()": ("result = lab.set_pace(100)", "refuse"),
    "set_pace(None)": ("result = lab.set_pace(None)", "refuse"),
    "set_plan()": ("result = lab.set_plan([SlotSpec(Bus.PIO, 0x3f8, 1, 0x42)])", "refuse"),
    "set_plans()": ("result = lab.set_plans([[SlotSpec(Bus.PIO, 0x3f8, 1, 0x42)]])", "refuse"),
    "plan()": ("result = lab.plan()", "refuse"),
    "add_registration()": (
        "result = lab.add_registration(RegistrationSpec(Bus.PIO, 0x600, 1))",
        "refuse",
    ),
    "add_registration(raw)": (
        "result = lab.add_registration(RegistrationSpec(Bus.PIO, 0x600, 1), prevalidate=False)",
        "refuse",
    ),
    "remove_registration(1)": ("result = lab.remove_registration(1)", "refuse"),
    "registrations()": ("result = lab.registrations()", "refuse"),
    "add_decoys()": ("result = lab.add_decoys([RegistrationSpec(Bus.PIO, 0x700, 1)])", "refuse"),
    "remove_decoys()": ("result = lab.remove_decoys()", "refuse"),
    "timer_overhead_cycles()": ("result = lab.timer_overhead_cycles()", "refuse"),
    "registration_histogram(1)": ("result = lab.registration_histogram(1)", "refuse"),
    "wake_histogram(1)": ("result = lab.wake_histogram(1)", "refuse"),
    "baseline_histogram()": ("result = lab.baseline_histogram(Bus.PIO, 1)", "refuse"),
    "set_completion()": ("lab.set_completion(1, 'msi')", "refuse"),
    "set_device_work()": ("lab.set_device_work(5)", "refuse"),
    "completion()": ("result = lab.completion(1)", "refuse"),
    "completions_note": ("result = lab.completions_note", "refuse"),
    "misbehave_completions()": ("lab.misbehave_completions('skip-eoi')", "refuse"),
    "share_plan()": ("lab.share_plan([SlotSpec(Bus.PIO, 0x700, 1, 1)])", "refuse"),
    "shared_plan": ("result = lab.shared_plan", "refuse"),
    "add_zone()": ("result = lab.add_zone(Bus.PIO, 0x700, 8)", "refuse"),
    "remove_zone(1)": ("result = lab.remove_zone(1)", "refuse"),
    "zones()": ("result = lab.zones()", "refuse"),
    "ring_drain": ("result = lab.ring_drain", "refuse"),
    "set_ring_drain()": ("result = lab.set_ring_drain('thread')", "refuse"),
    "scribble_ring()": ("result = lab.scribble_ring(0, 0)", "refuse"),
}

# Runs in its own interpreter; each call in a forked child, so a segfault
# is one call's verdict (its signal), not the end of the run or of pytest.
AFTER_CLOSE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from iofdtui.engine.lab import Lab
    from iofdtui.engine.model import Bus, RegistrationSpec, SlotSpec
    from iofdtui.engine.native import lib

    calls = json.loads(sys.argv[1])
    lab = Lab()
    lab.set_plan([SlotSpec(Bus.PIO, 0x3F8, 1, 0x42, 4)])
    lab.add_registration(RegistrationSpec(Bus.PIO, 0x3F8, 1))
    lab.add_zone(Bus.PIO, 0x600, 8)  # the ring is mapped: calls after close must not reach it
    lab.start()
    lab.checkpoint()
    lab.close()
    results = {}
    for name, code in calls.items():
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            scope = {"lab": lab, "Bus": Bus, "RegistrationSpec": RegistrationSpec,
                     "SlotSpec": SlotSpec, "lib": lib}
            try:
                exec(code, scope)
                out = {"returned": repr(scope.get("result"))[:200]}
            except BaseException as err:
                out = {"raised": type(err).__name__,
                       "bases": [c.__name__ for c in type(err).__mro__],
                       "errno": getattr(err, "errno", None), "message": str(err)}
            os.write(w, json.dumps(out).encode())
            os._exit(0)
        os.close(w)
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        os.close(r)
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            results[name] = {"signal": os.WTERMSIG(status)}
        else:
            results[name] = json.loads(b"".join(chunks) or b'{"lost": true}')
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def after_close() -> dict[str, dict[str, object]]:
    """Every AFTER_CLOSE call's outcome on one closed lab (a subprocess run).

    The kvm mark's check (tests/conftest.py) runs before this fixture.
    """
    calls = {name: code for name, (code, _) in AFTER_CLOSE.items()}
    run = subprocess.run(
        [sys.executable, "-c", AFTER_CLOSE_SCRIPT, json.dumps(calls)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, f"rc {run.returncode}: {run.stderr[-2000:]}"
    return json.loads(run.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", AFTER_CLOSE, ids=str)
def test_after_close_each_call_refuses_or_is_harmless(
    after_close: dict[str, dict[str, object]], name: str
) -> None:
    outcome = after_close[name]
    expect = AFTER_CLOSE[name][1]
    assert "signal" not in outcome, f"{name} killed the process with signal {outcome['signal']}"
    refused = "raised" in outcome
    if refused:
        assert outcome["raised"] == "LabClosed", outcome
        assert "EngineError" in outcome["bases"], outcome  # type: ignore[operator]
        assert outcome["errno"] == errno.EBADF, outcome
        assert "the lab is closed" in str(outcome["message"]), outcome
        assert "\n" not in str(outcome["message"])
    if expect == "refuse":
        assert refused, f"{name} returned {outcome.get('returned')} on a closed lab"
    elif expect == "closed":
        assert outcome == {"returned": "'closed'"}
    elif expect == "none":
        assert outcome == {"returned": "None"}


def test_after_close_covers_every_public_call() -> None:
    """A new public method or property of Lab gets its after-close verdict too."""
    from iofdtui.engine.lab import Lab

    covered = {name.split("(")[0] for name in AFTER_CLOSE}
    assert {name for name in dir(Lab) if not name.startswith("_")} - covered == set()
