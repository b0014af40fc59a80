"""`iofdtui bench --roundtrip`: the kick → completion-interrupt loop, per path and stage.

One VM with an in-kernel irqchip (engine/roundtrip.py) runs, in turn, the
ioeventfd + irqfd loop under each reader asked for, the userspace-exit +
`KVM_SIGNAL_MSI` baseline and the guest's self-IPI floor, each for the
same time.  Every result carries its exact counts and the kernel's own
halt/injection statistics over the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from iofdtui.engine.experiments.bench import machine_json
from iofdtui.engine.roundtrip import RT_READERS, RoundTripVM
from iofdtui.engine.roundtrip_figures import BUSES, RoundTripReport


def run_roundtrip(
    seconds: float,
    readers: Sequence[str] = ("epoll",),
    work_us: float = 0.0,
    progress: Callable[[str, str | None], None] | None = None,
    buses: Sequence[str] = BUSES,
) -> RoundTripReport:
    """Per bus, the ioeventfd loop under each reader (MSI route), once on the IOAPIC pin
    route, and the user-exit baseline on each route (KVM_SIGNAL_MSI, KVM_IRQ_LINE); then
    the self-IPI floor (its kick is the LAPIC's)."""
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
        plan.append(("user", readers[0], bus, "pin"))
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
