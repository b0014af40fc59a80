"""The kick → completion-interrupt round trip on real ioctls (engine/roundtrip.py)."""

from __future__ import annotations

import errno as E
import random
import time

import pytest

from iofdtui.engine.roundtrip import CompletionsUnsupported, completions_unsupported
from iofdtui.engine.roundtrip_figures import STAGES, RoundTripCounts, stage_figures


@pytest.fixture(scope="module")
def vm():
    from tests.conftest import need_kvm

    need_kvm()
    from iofdtui.engine.roundtrip import RoundTripVM

    with RoundTripVM() as the_vm:
        yield the_vm


def _balanced(r) -> None:
    c = r.counts
    assert r.exact, c
    assert c.kicks > 0 and c.kicks == c.handler_runs
    assert c.other_irqs == c.completion_errors == c.merged == c.coalesced == 0
    if r.path == "ioeventfd":
        assert c.signals == c.reads == c.completions == c.kicks and c.user_exits == 0
    elif r.path == "user":
        assert c.user_exits == c.completions == c.kicks and c.signals == 0
    else:
        assert c.signals == c.user_exits == c.completions == 0
    # The pin route's irqfd line was lowered at each EOI, once: the resamplefd says so
    # (on the exit path the vCPU thread lowers the line itself: no resampler).
    assert c.resamples == (c.kicks if r.route == "pin" and r.path == "ioeventfd" else 0)


@pytest.mark.kvm
@pytest.mark.parametrize(
    ("path", "reader", "bus"),
    [
        ("ioeventfd", "epoll", "pio"),
        ("ioeventfd", "poll", "pio"),
        ("ioeventfd", "epoll", "mmio"),
        ("ioeventfd", "poll", "mmio"),
        ("user", "epoll", "pio"),
        ("user", "epoll", "mmio"),
        ("self-ipi", "epoll", "pio"),
    ],
)
def test_every_kick_is_answered_once_and_timed_per_stage(
    vm, path: str, reader: str, bus: str
) -> None:
    r = vm.run(path, 0.3, reader, bus=bus)
    _balanced(r)
    assert r.bus == ("lapic" if path == "self-ipi" else bus)
    assert r.samples == min(r.counts.kicks, 16384) - r.negative and r.negative == 0
    assert r.total is not None and 0 < r.total.p50_ns <= r.total.p99_ns
    if path == "self-ipi":
        assert r.stages == {}
        return
    assert set(r.stages) == set(STAGES)
    assert all(f.p50_ns >= 0 and f.mean_ns >= 0 for f in r.stages.values())
    # Each record's stages sum to its round trip exactly, so the means do too.
    assert sum(f.mean_ns for f in r.stages.values()) == pytest.approx(r.total.mean_ns, rel=1e-9)
    # The kernel's own counters saw the guest halt for (nearly) every kick.
    if "halt_exits" in r.kernel:
        assert r.kernel["halt_exits"] >= r.counts.kicks * 0.9


@pytest.mark.kvm
@pytest.mark.parametrize(("reader", "bus"), [("epoll", "pio"), ("poll", "mmio")])
def test_the_ioapic_pin_route_is_resampled_once_per_interrupt(vm, reader: str, bus: str) -> None:
    r = vm.run("ioeventfd", 0.3, reader, bus=bus, route="pin")
    _balanced(r)
    assert r.route == "pin" and set(r.stages) == set(STAGES)


@pytest.mark.kvm
@pytest.mark.parametrize("bus", ["pio", "mmio"])
def test_the_exit_path_raises_and_lowers_the_pin_before_reentry(vm, bus: str) -> None:
    # KVM_IRQ_LINE_STATUS up, KVM_IRQ_LINE down, then KVM_RUN: one handler run a kick,
    # never a second from a line left high at the EOI.
    r = vm.run("user", 0.3, "epoll", bus=bus, route="pin")
    _balanced(r)
    assert r.route == "pin" and set(r.stages) == set(STAGES)
    # The MSI baseline on the same VM afterwards: the pin left nothing pending.
    _balanced(vm.run("user", 0.1, "epoll", bus=bus))


@pytest.mark.kvm
def test_device_work_shows_in_its_own_stage_only(vm) -> None:
    quick = vm.run("ioeventfd", 0.3, "epoll")
    slow = vm.run("ioeventfd", 0.3, "epoll", work_us=50.0)
    _balanced(slow)
    assert slow.stages["written"].p50_ns >= 50_000 > quick.stages["written"].p50_ns
    assert slow.stages["written"].p50_ns < 50_000 * 2  # the spin, not a stall


@pytest.mark.kvm
def test_random_path_and_reader_changes_keep_every_run_exact(vm) -> None:
    rng = random.Random(10)
    for _ in range(6):
        path = rng.choice(("ioeventfd", "user", "self-ipi"))
        reader, bus = rng.choice(("epoll", "poll")), rng.choice(("pio", "mmio"))
        route = rng.choice(("msi", "pin")) if path != "self-ipi" else "msi"
        r = vm.run(path, rng.uniform(0.05, 0.15), reader, bus=bus, route=route)
        _balanced(r)


@pytest.mark.kvm
def test_a_guest_that_masks_its_lapic_is_reported_not_hung(vm) -> None:
    started = time.monotonic()
    r = vm.run("ioeventfd", 0.2, "epoll", misbehave="mask-lapic", pause_timeout=0.3)
    assert time.monotonic() - started < 5
    c = r.counts
    # The first completion is handled, then the LAPIC is off: the second kick
    # was read and its irqfd written, but no handler ever ran for it.
    assert not r.exact
    assert (c.kicks, c.handler_runs, c.signals, c.completions) == (2, 1, 2, 2)
    # The next run starts from a clean LAPIC: the VM is not left broken.
    _balanced(vm.run("ioeventfd", 0.1, "epoll"))


@pytest.mark.kvm
def test_teardown_deassigns_so_the_same_doorbell_can_be_set_up_again(vm) -> None:
    from iofdtui.engine.native import lib

    for _ in range(3):  # a stale ioeventfd would make the next KVM_IOEVENTFD fail (EEXIST)
        _balanced(vm.run("ioeventfd", 0.05, "epoll"))
    handle = vm._lab
    assert lib.lab_rt_setup(handle, lib.RT_PATH_IOEVENTFD, 1, 1, 0, 0x40, 0) == 0
    assert lib.lab_rt_teardown(handle) == 0
    assert lib.lab_rt_teardown(handle) == 0  # twice: nothing left to do


@pytest.mark.kvm
def test_the_doorbell_lab_has_no_irqchip_and_refuses_the_round_trip(lab) -> None:
    from iofdtui.engine.native import ffi, lib

    facts = ffi.new("struct lab_facts *")
    lib.lab_facts(lab._lab, facts)
    assert facts.irqchip == 0  # a hlt in the lab guest still exits (KVM_EXIT_HLT)
    assert lib.lab_rt_setup(lab._lab, lib.RT_PATH_USER, 0, 0, 0, 0x40, 0) == -E.ENOTSUP
    assert lib.lab_start(lab._lab, lib.ENTRY_ROUNDTRIP) == -E.ENOENT


@pytest.mark.kvm
def test_bad_arguments_are_refused_before_any_ioctl(vm) -> None:
    from iofdtui.engine.native import lib

    handle = vm._lab
    assert lib.lab_rt_setup(handle, 3, 0, 0, 0, 0x40, 0) == -E.EINVAL
    assert lib.lab_rt_setup(handle, 0, 2, 0, 0, 0x40, 0) == -E.EINVAL  # no such bus
    assert lib.lab_rt_setup(handle, 0, 0, 2, 0, 0x40, 0) == -E.EINVAL  # no such route
    assert lib.lab_rt_setup(handle, 2, 0, 1, 0, 0x40, 0) == -E.EINVAL  # the self-IPI has no pin
    assert lib.lab_rt_setup(handle, 0, 0, 0, 2, 0x40, 0) == -E.EINVAL  # reader none never answers
    assert lib.lab_rt_setup(handle, 0, 0, 0, 0, 31, 0) == -E.EINVAL  # an exception vector
    with pytest.raises(ValueError, match="path"):
        vm.run("pin", 0.1)
    with pytest.raises(ValueError, match="route"):
        vm.run("self-ipi", 0.1, route="pin")
    with pytest.raises(ValueError, match="bus"):
        vm.run("user", 0.1, bus="isa")
    with pytest.raises(ValueError, match="device work"):
        vm.run("user", 0.1, work_us=-1)


def test_stage_figures_use_signed_32_bit_differences_across_the_wrap() -> None:
    base = 0xFFFF_FF00
    rec = (base, (base + 100) & 0xFFFF_FFFF, (base + 300) & 0xFFFF_FFFF, (base + 600) & 0xFFFF_FFFF)
    samples, total, stages, negative = stage_figures([rec] * 3, 1_000_000, True)
    assert (samples, negative) == (3, 0)
    assert total is not None and total.p50_ns == pytest.approx(600.0)
    assert [stages[s].p50_ns for s in STAGES] == pytest.approx([100.0, 200.0, 300.0])


def test_a_record_with_a_negative_stage_is_left_out_and_counted() -> None:
    good = (1000, 1100, 1200, 1300)
    bad = (1000, 900, 1200, 1300)  # reader "awake" before the kick: a wrong clock mapping
    samples, total, stages, negative = stage_figures([good, bad], 1_000_000, True)
    assert (samples, negative) == (1, 1)
    assert total is not None and total.p50_ns == pytest.approx(300.0)
    assert stages["awake"].p50_ns == pytest.approx(100.0)
    # Without host stamps (self-IPI) only kick → handler counts.
    samples, _total, stages, negative = stage_figures([bad], 1_000_000, False)
    assert (samples, negative, stages) == (1, 0, {})


def test_a_kernel_without_irqfd_gets_one_line_naming_it() -> None:
    err = completions_unsupported(2, 0)
    assert isinstance(err, CompletionsUnsupported)
    text = str(err)
    assert "KVM_CAP_IRQFD" in text and "\n" not in text and "lab works without them" in text
    assert "KVM_CREATE_IRQCHIP failed (EEXIST)" in str(completions_unsupported(0, E.EEXIST))


def test_counts_balance_per_path() -> None:
    fields = dict.fromkeys(RoundTripCounts.__slots__, 0)
    ok = RoundTripCounts(
        **{**fields, "kicks": 5, "handler_runs": 5, "signals": 5, "reads": 5, "completions": 5}
    )
    assert ok.balanced("ioeventfd") and not ok.balanced("user")
    lost = RoundTripCounts(
        **{**fields, "kicks": 5, "handler_runs": 4, "signals": 5, "completions": 5}
    )
    assert not lost.balanced("ioeventfd")
    # The pin route also needs one resample per handler run (an EOI that lowered the line).
    assert not ok.balanced("ioeventfd", "pin")
    resampled = RoundTripCounts(
        **({n: getattr(ok, n) for n in RoundTripCounts.__slots__} | {"resamples": 5})
    )
    assert resampled.balanced("ioeventfd", "pin")
