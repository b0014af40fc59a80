"""Facts about the host that decide how to read the numbers."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from iofdtui.engine.snapshot import MachineFacts

_FLAVOURS = ("kvm_intel", "kvm_amd", "kvm_pvm")


def kvm_module(sys_module: Path = Path("/sys/module")) -> str:
    """Which KVM flavour serves /dev/kvm, from the loaded modules."""
    loaded = [name for name in _FLAVOURS if (sys_module / name).exists()]
    return ", ".join(loaded) if loaded else "unknown"


def emulation(module: str) -> tuple[bool | None, str]:
    """Whether guest instructions are emulated, and a note saying so."""
    if "kvm_pvm" in module:
        return True, (
            "kvm_pvm emulates every guest instruction: figures are the emulator's, "
            "not VM-exit costs"
        )
    if "kvm_intel" in module or "kvm_amd" in module:
        return False, "hardware virtualization (VMX/SVM): guest code runs natively"
    return None, "unknown KVM flavour: cannot say whether guest code is emulated"


def kernel_release() -> str:
    """`uname -r`."""
    return os.uname().release


def tsc_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The host CPU's TSC flags: constant_tsc and nonstop_tsc make one clock of it."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return {f for f in line.split(":", 1)[1].split() if "tsc" in f}
    return set()


def machine_facts(facts: object, vcpus: int) -> MachineFacts:
    """What the numbers are about: this host and the VM's struct lab_facts."""
    module = kvm_module()
    emulated, note = emulation(module)
    caps = ["KVM_CAP_IOEVENTFD", "KVM_CAP_IMMEDIATE_EXIT", "KVM_CAP_USER_MEMORY"]
    if facts.cap_any_length:  # type: ignore[attr-defined]
        caps.append("KVM_CAP_IOEVENTFD_ANY_LENGTH")
    if facts.cap_no_length:  # type: ignore[attr-defined]
        caps.append("KVM_CAP_IOEVENTFD_NO_LENGTH")
    if facts.tsc_khz:  # type: ignore[attr-defined]
        caps.append("KVM_GET_TSC_KHZ")
    return MachineFacts(
        kernel=kernel_release(),
        kvm_module=module,
        emulated=emulated,
        emulation_note=note,
        tsc_khz=facts.tsc_khz,  # type: ignore[attr-defined]
        api_version=facts.api_version,  # type: ignore[attr-defined]
        capabilities=tuple(caps),
        vcpus=vcpus,
    )


def clock_note(facts: object, tsc_flags: set[str]) -> str | None:
    """Why wake-up latency cannot be shown honestly (guest and host TSC are not
    one mapped clock), from struct lab_facts and the host's TSC flags; None when it can."""
    if not facts.tsc_offset_ok:  # type: ignore[attr-defined]
        code = facts.tsc_offset_errno  # type: ignore[attr-defined]
        name = errno.errorcode.get(code, str(code))
        return (
            f"no guest↔host clock: KVM_VCPU_TSC_OFFSET unavailable ({name}; "
            "Linux 5.16+ on x86 has it)"
        )
    if not facts.tsc_khz:  # type: ignore[attr-defined]
        return "no TSC rate: KVM_GET_TSC_KHZ unavailable"
    missing = {"constant_tsc", "nonstop_tsc"} - tsc_flags
    if missing:
        return f"host TSC is not one clock (no {', '.join(sorted(missing))} in /proc/cpuinfo)"
    if facts.tsc_offset_changes:  # type: ignore[attr-defined]
        return f"the guest's TSC offset moved {facts.tsc_offset_changes}× during the run"  # type: ignore[attr-defined]
    return None


def tsc_offset_text(facts: object) -> str:
    """KVM_VCPU_TSC_OFFSET from struct lab_facts as signed cycles, or "unknown"."""
    if not facts.tsc_offset_ok:  # type: ignore[attr-defined]
        return "unknown"
    offset = facts.tsc_offset  # type: ignore[attr-defined]
    return f"{offset - (1 << 64) if offset >> 63 else offset:,} cycles"
