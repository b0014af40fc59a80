"""`iofdtui bench --roundtrip`: the kick → completion-interrupt loop, per path and stage.

One VM with an in-kernel irqchip (engine/roundtrip.py) runs, in turn, the
ioeventfd + irqfd loop under each reader asked for, the userspace-exit +
`KVM_SIGNAL_MSI` baseline and the guest's self-IPI floor, each for the
same time.  Every result carries its exact counts and the kernel's own
halt/injection statistics over the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from iofdtui.engine.experiments.bench import machine_json
from iofdtui.engine.roundtrip import (
    BUSES,
    RT_READERS,
    STAGES,
    VECTOR,
    RoundTripResult,
    RoundTripVM,
    StageFigures,
)

STAGE_NOTE = (
    "stages on the guest's TSC (host stamps mapped with KVM_VCPU_TSC_OFFSET): kick → "
    "awake (the reader read the eventfd; on the user path, the vCPU thread had the exit) → "
    "written (the completion is about to be written: irqfd, or KVM_SIGNAL_MSI; the "
    "device's work between) → handler (the guest's interrupt handler entered); they sum "
    "to the round trip"
)


def _figures_json(fig: StageFigures | None) -> dict[str, float] | None:
    if fig is None:
        return None
    return {"p50": fig.p50_ns, "p99": fig.p99_ns, "mean": fig.mean_ns}


def result_json(r: RoundTripResult) -> dict[str, object]:
    """One path's JSON row: counts, exact, figures in ns, kernel statistics."""
    return {
        "path": r.path,
        "bus": r.bus,
        "route": r.route,
        "reader": r.reader,
        "seconds": r.seconds,
        "round_trips_per_s": r.rate,
        "exact": r.exact,
        "counts": {name: getattr(r.counts, name) for name in r.counts.__slots__},
        "samples": r.samples,
        "negative": r.negative,
        "round_trip_ns": _figures_json(r.total),
        "stages_ns": {name: _figures_json(r.stages.get(name)) for name in STAGES},
        "kernel": r.kernel,
    }


@dataclass(frozen=True, slots=True)
class RoundTripReport:
    """A whole `--roundtrip` run."""

    machine: dict[str, object]
    work_us: float
    results: tuple[RoundTripResult, ...]

    def as_json(self) -> dict[str, object]:
        """JSON document (documented in the README, "The round trip")."""
        return {
            "machine": self.machine,
            "vector": VECTOR,
            "device_work_us": self.work_us,
            "stage_note": STAGE_NOTE,
            "results": [result_json(r) for r in self.results],
        }


def run_roundtrip(
    seconds: float,
    readers: Sequence[str] = ("epoll",),
    work_us: float = 0.0,
    progress: Callable[[str, str | None], None] | None = None,
    buses: Sequence[str] = BUSES,
) -> RoundTripReport:
    """Per bus, the ioeventfd loop under each reader (MSI route), once on the IOAPIC pin
    route, and the user-exit baseline; then the self-IPI floor (its kick is the LAPIC's)."""
    unknown = [r for r in readers if r not in RT_READERS]
    if unknown or not readers:
        raise ValueError(f"readers must be among {', '.join(RT_READERS)}, not {unknown}")
    if not buses or any(b not in BUSES for b in buses):
        raise ValueError(f"buses must be among {', '.join(BUSES)}, not {list(buses)}")
    plan: list[tuple[str, str, str, str]] = []
    for bus in buses:
        plan += [("ioeventfd", r, bus, "msi") for r in readers]
        plan.append(("ioeventfd", readers[0], bus, "pin"))
        plan.append(("user", readers[0], bus, "msi"))
    plan.append(("self-ipi", readers[0], buses[0], "msi"))
    results = []
    with RoundTripVM() as vm:
        for path, reader, bus, route in plan:
            if progress:
                what = path if path == "self-ipi" else f"{bus} {path} ({route})"
                progress(what, reader if path == "ioeventfd" else None)
            results.append(vm.run(path, seconds, reader, bus=bus, route=route, work_us=work_us))
        m = vm.machine
        machine = {
            **machine_json(m),
            "tsc_offset": vm.tsc_offset,
            "clock_note": vm.clock_note,
            "capabilities": [
                "KVM_CAP_IRQCHIP",
                "KVM_CAP_IRQFD",
                "KVM_CAP_IRQ_ROUTING",
                "KVM_CAP_SIGNAL_MSI",
            ],
        }
    return RoundTripReport(machine=machine, work_us=work_us, results=tuple(results))
