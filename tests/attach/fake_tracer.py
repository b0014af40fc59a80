"""A tracer for the attached VM's app without tracefs: fixed counts that grow per reading."""

from __future__ import annotations

import os

from iofdtui.engine.attach.exit_latency import ExitLatencies, ReasonLatency
from iofdtui.engine.attach.interrupts import IRQ_EVENTS, GsiCounts, Interrupts, VectorCounts
from iofdtui.engine.attach.snapshot import (
    AttachSnapshot,
    TraceCost,
    TracedDoorbell,
    TracedThread,
    TracedValue,
    TraceSetup,
)
from iofdtui.engine.model import Bus


class FakeTracer:
    """Reading n: each doorbell has n × its per-reading writes, half a second apart."""

    def __init__(
        self, pid: int | None = None, fail: str | None = None, exit_na: str | None = None
    ) -> None:
        self.pid = os.getpid() if pid is None else pid  # alive unless a test says otherwise
        self.readings = 0
        self.resets = 0
        self.polls = 0
        self.fail = fail
        self.exit_na = exit_na  # say exit latency is n/a for this reason (as on kvm_pvm)

    def poll(self, final: bool = False) -> int:
        self.polls += 1
        if self.fail:
            raise OSError(5, self.fail)
        return 0

    def reset(self) -> None:
        self.resets += 1
        self.readings = 0

    def setup(self) -> TraceSetup:
        return TraceSetup(
            pid=4242,
            comm="qemu-system-x86",
            kernel="6.18.0-test",
            flavour="kvm_intel",
            events=("kvm_pio", "kvm_mmio", "kvm_userspace_exit", *IRQ_EVENTS),
            exit_latency=self.exit_na is None,
            buffer_kb=4096,
        )

    def snapshot(self) -> AttachSnapshot:
        self.readings += 1
        n = self.readings
        pio = TracedDoorbell(
            Bus.PIO,
            0x3F8,
            writes=40_000 * n,
            exits=0,
            undecided=0,
            by_value=(TracedValue(1, 0x42, 40_000 * n, 0, 0),),
            by_thread=(TracedThread(4243, 40_000 * n, 0),),
        )
        mmio = TracedDoorbell(
            Bus.MMIO,
            0xFE00_0000,
            writes=80_000 * n + 1,
            exits=40_000 * n,
            undecided=1,
            by_value=(
                TracedValue(4, 0x1, 40_000 * n, 0, 0),
                TracedValue(4, 0x2, 40_000 * n + 1, 40_000 * n, 1),
            ),
            by_thread=(
                TracedThread(4243, 60_000 * n + 1, 30_000 * n),
                TracedThread(4244, 20_000 * n, 10_000 * n),
            ),
        )
        cost = TraceCost(
            events=160_000 * n,
            events_per_s=None if n == 1 else 320_000.0,
            lost=0,
            cpu_s=0.2 * n,
            buffer_kb=4096,
        )
        return AttachSnapshot(
            pid=4242,
            comm="qemu-system-x86",
            elapsed_s=0.5 * n,
            doorbells=(mmio, pio),
            threads=(4243, 4244),
            read_exits=0,
            unmatched_exits=0,
            instance="iofdtui-4241-abcdef",
            cost=cost,
            interrupts=Interrupts(
                IRQ_EVENTS,
                (
                    VectorCounts(0x40, 1000 * n, 1000 * n, 1000 * n - 1),
                    VectorCounts(0xEC, 0, 50 * n, 50 * n),
                ),
                (GsiCounts(10, 0, 200 * n),),
            ),
            exit_latency=ExitLatencies((), self.exit_na)
            if self.exit_na
            else ExitLatencies(
                (
                    ReasonLatency("VMX", 30, "IO_INSTRUCTION", 40_000 * n, 5_210.0, 1_800, 91_000),
                    ReasonLatency("VMX", 48, "EPT_VIOLATION", 900 * n, 2_480.0, 1_100, 30_500),
                    ReasonLatency("VMX", 12, "HLT", 10 * n, 1_250_000.0, 2_000, 4_000_000),
                ),
                None,
            ),
        )
