"""Facts about the host that decide how to read the numbers."""

from __future__ import annotations

import os
from pathlib import Path

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
