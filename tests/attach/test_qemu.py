"""`iofdtui attach` on a real QEMU (`-accel kvm`), where the guest knows the truth.

The guest (guests/qemu_doorbells.S) rings QEMU's pci-testdev: per phase a
known number of writes of one value at one address, reported on debugcon
with QEMU's own count of the writes that reached it.  Traced from before the
guest's first instruction to its halt, per (doorbell, value): writes = the
guest's, exits = the writes QEMU saw, in the kernel = the rest, and which
phases the kernel serves is fixed by pci-testdev's ioeventfds.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iofdtui import cli
from iofdtui.engine.attach.tracer import HOLD_NS, Tracer
from iofdtui.engine.model import Bus
from tests.attach.conftest import our_instances
from tests.conftest import REQUIRE_KVM

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "guests"))
from qemu_vm import QEMU, Phase, QemuVm

pytestmark = pytest.mark.kvm

# (bus, address, value) -> served in the kernel (pci-testdev registers an ioeventfd)
IN_KERNEL = {
    ("pio", 0xC083, 0xFA): False,  # no-eventfd
    ("pio", 0xC084, 0x11): True,  # wildcard
    ("mmio", 0xC000_0801, 0x22): True,  # wildcard
    ("mmio", 0xC000_0802, 0xFA): True,  # datamatch 0xfa
    ("mmio", 0xC000_0802, 0x01): False,  # datamatch, another value
    ("mmio", 0xC000_0800, 0xFA): False,  # no-eventfd
}


def need_qemu() -> None:
    """Skip without QEMU (fail under IOFDTUI_REQUIRE_KVM=1: .ci/run installs it)."""
    if shutil.which(QEMU) is None:
        if REQUIRE_KVM:
            pytest.fail(f"IOFDTUI_REQUIRE_KVM=1 but {QEMU} is not installed (qemu-system-x86)")
        pytest.skip(f"needs {QEMU}")


@pytest.fixture
def qemu(tmp_path: Path) -> Iterator[QemuVm]:
    """A QEMU on the guest, paused before its first instruction."""
    need_qemu()
    with QemuVm(tmp_path) as vm:
        yield vm


def test_traced_counts_equal_what_the_guest_and_qemu_counted(qemu: QemuVm, tracefs: Path) -> None:
    with Tracer(qemu.pid, root=tracefs) as tracer:
        qemu.resume()
        phases = qemu.wait_done()
        time.sleep(HOLD_NS / 1e9)
        tracer.poll(final=True)
        snap = tracer.snapshot()
    assert our_instances(tracefs) == []
    assert {(p.bus, p.addr, p.value) for p in phases} == set(IN_KERNEL), phases
    assert snap.cost.lost == 0
    for p in phases:
        _check_phase(snap, p)


def _check_phase(snap: object, p: Phase) -> None:
    door = snap.doorbell(Bus(p.bus), p.addr)
    assert door is not None, f"{p.bus} {p.addr:#x}: the guest wrote it, nothing was traced"
    (seen,) = [v for v in door.by_value if v.value == p.value]
    assert seen.width == 1
    assert seen.writes == p.writes, p
    assert seen.undecided == 0, p
    if IN_KERNEL[(p.bus, p.addr, p.value)]:
        assert (seen.in_kernel, seen.exits, p.qemu_count) == (p.writes, 0, 0), p
    else:
        assert (seen.in_kernel, seen.exits) == (0, p.writes), p
        # QEMU counts only the value its test matches (0xfa); it saw every one of those.
        assert p.qemu_count == (p.writes if p.value == 0xFA else 0), p


def test_headless_attach_on_a_looping_qemu(
    tmp_path: Path, tracefs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_qemu()
    with QemuVm(tmp_path, loop=True) as vm:
        vm.resume()
        assert cli.main(["attach", str(vm.pid), "--seconds", "0.5"]) == 0
    out = capsys.readouterr().out
    for addr in ("0xc083", "0xc084", "0xc0000801", "0xc0000802", "0xc0000800"):
        assert addr in out, out
    assert our_instances(tracefs) == []


def test_list_does_not_take_kvms_worker_thread_for_a_vcpu(tmp_path: Path) -> None:
    from iofdtui.engine.attach.processes import in_kvm_run, is_user_worker, read_process

    need_qemu()
    with QemuVm(tmp_path) as vm:
        vm.resume()
        vm.wait_done()  # the guest halts next: its vCPU thread then sleeps inside KVM_RUN
        end = time.monotonic() + 5
        while (proc := read_process(vm.pid)) is not None and not proc.vcpu_threads:
            assert time.monotonic() < end, "no vCPU thread went back into KVM_RUN"
            time.sleep(0.02)
        assert proc is not None
        comms = {t: Path(f"/proc/{vm.pid}/task/{t}/comm").read_text().strip() for t in proc.threads}
        workers = [t for t, comm in comms.items() if comm.startswith("kvm-nx-lpage")]
        # KVM's worker is forked inside the first KVM_RUN, and /proc shows that ioctl forever.
        assert workers and all(is_user_worker(vm.pid, t) for t in workers)
        assert not any(in_kvm_run(vm.pid, t) for t in workers)
        assert len(proc.vcpu_threads) == 1 and proc.vcpu_threads[0] not in workers
