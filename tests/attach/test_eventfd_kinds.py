"""What /proc can honestly say of a KVM process's eventfds, on a real lab in this process.

The lab's registrations are ioeventfds: with its epoll reader they sit in its
epoll set ("read by the process"); with no reader the guest's rings pile up
in their counters ("not an irqfd": KVM reads an irqfd's count at once).
"""

from __future__ import annotations

import os
import time

import pytest

from iofdtui.engine.attach.processes import EventfdInfo, read_process
from iofdtui.engine.demo import demo_plan, demo_registrations

pytestmark = pytest.mark.kvm


def _eventfds() -> tuple[EventfdInfo, ...]:
    proc = read_process(os.getpid())
    assert proc is not None
    return proc.eventfds


def test_epoll_reader_eventfds_are_read_by_the_process(lab: object) -> None:
    before = {e.fd for e in _eventfds()}
    lab.set_reader("epoll")
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    lab.start()
    time.sleep(0.1)
    new = [e for e in _eventfds() if e.fd not in before]
    watched = [e for e in new if e.watched_by]
    assert len(watched) == len(demo_registrations())
    assert all(e.kind in ("read by the process", "not an irqfd") for e in watched)


def test_unread_signals_say_not_an_irqfd(lab: object) -> None:
    lab.set_reader("none")
    for spec in demo_registrations():
        lab.add_registration(spec)
    lab.set_plan(demo_plan())
    lab.start()
    end, seen = time.monotonic() + 3, set()
    while time.monotonic() < end and not seen:
        time.sleep(0.02)  # nobody reads them between the lab's readings: counts pile up
        seen = {e.fd for e in _eventfds() if e.kind == "not an irqfd"}
    assert seen and all(not e.watched_by for e in _eventfds() if e.fd in seen)


def test_kind_says_unknown_rather_than_guess() -> None:
    assert EventfdInfo(5, 0, 1).kind == "unknown"
    assert EventfdInfo(5, None, None).kind == "unknown"
    assert EventfdInfo(5, 0, 1, (9,)).kind == "read by the process"
    assert EventfdInfo(5, 3, 1, (9,)).kind == "not an irqfd"
