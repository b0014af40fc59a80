"""What a registration's completion did: plain data (no native engine), so a
recording carries it and replay reads it on a machine with no /dev/kvm.

A completion is the other half of the notification loop on a registration
of the live lab (see `completions.py`): each signal its reader reads is
answered with an irqfd write, and the guest, which waits with `hlt` after
each kick, counts its handler's runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from iofdtui.engine.latency import Latency

COMPLETION_ROUTES: tuple[str, ...] = ("msi", "pin")
"""How a completion reaches the guest.

- msi: a `KVM_SET_GSI_ROUTING` MSI entry to the target vCPU's LAPIC, with a
  vector of its own (virtio-pci, vhost).
- pin: an IOAPIC pin, level-triggered, `KVM_IRQFD_FLAG_RESAMPLE`; KVM lowers
  the line at the guest's EOI and signals the resample eventfd (VFIO INTx).
"""

MAX_DEVICE_WORK_US = 10_000.0
"""The most device work a reader may spin before it answers (10 ms): the reader
serves every registration, so one device's work delays the others' answers."""


@dataclass(frozen=True, slots=True)
class CompletionStats:
    """A registration's completion: its route, its counts and its stages.

    Counts run from when the completion was attached (or the last reset).

    Attributes:
        route: "msi" or "pin" (COMPLETION_ROUTES).
        vcpu: the vCPU the interrupt is delivered to (MSI destination).
        vector: the guest vector it raises.
        gsi: the GSI its irqfd is bound to (the pin, for the pin route).
        kicks: signals read from the registration's eventfd.
        irqfd_writes: completions written.
        write_errors: irqfd writes that failed.
        merged: signals read together with another, answered by one write.
        handler_runs: the guest handler's runs for `vector`.
        resamples: the resample eventfd's count (the guest EOI'd the level
            interrupt); None for an MSI.
        device_work_us: the reader's work before each answer.
        awake: kick → reader awake.
        written: reader awake → irqfd written (the device work).
        handler: irqfd written → the guest's handler entered.
        round_trip: kick → handler (the three stages' sum, kick by kick).
        negative: kicks not timed because a stage ended before it began
            (the guest/host clock mapping is wrong).
        unrecorded: lab-wide, kicks whose record was overwritten before the
            engine read it (the reader fell 16,384 kicks behind).
        kicker: the vCPU whose kicks wait for it (the one whose plan rings it).
        runs_on: handler runs per vCPU, by the vCPU that took the interrupt
            (empty in recordings made before it was kept).
    """

    route: str
    vcpu: int
    vector: int
    gsi: int
    kicks: int
    irqfd_writes: int
    write_errors: int
    merged: int
    handler_runs: int
    resamples: int | None
    device_work_us: float
    awake: Latency
    written: Latency
    handler: Latency
    round_trip: Latency
    negative: int = 0
    unrecorded: int = 0
    kicker: int = 0
    runs_on: tuple[int, ...] = ()

    @property
    def crosses(self) -> bool:
        """The loop crosses CPUs: one vCPU kicks, the other takes the interrupt."""
        return self.kicker != self.vcpu

    @property
    def answered(self) -> bool:
        """Every kick answered: kicks = irqfd writes + write errors + merged."""
        return self.kicks == self.irqfd_writes + self.write_errors + self.merged

    @property
    def in_flight(self) -> int:
        """Interrupts written that the guest's handler has not taken (0 at a pause)."""
        return self.irqfd_writes - self.handler_runs

    @property
    def exact(self) -> bool:
        """At a pause: kicks = signals read = irqfd writes = handler runs, with every
        merge and failed write counted (and, on a pin, one resample per run)."""
        pin_ok = self.resamples is None or self.resamples == self.handler_runs
        return self.answered and self.in_flight == 0 and pin_ok
