"""cffi (API mode) build script for the engine's C core.

The cdef is the engine's own small API, read from `lab.h` between
its markers; KVM structures come from the system's <linux/kvm.h> when the
C is compiled, so no offset is ever copied by hand.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI


def _from_cwd(path: Path) -> Path:
    """`path` relative to the cwd, as setuptools wants source paths (a build runs
    from the project root); absolute when the cwd is elsewhere (e.g. running this
    file from another directory)."""
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


# Found from this file, not the cwd: a glob from another directory found no source.
NATIVE = _from_cwd(Path(__file__).resolve().parent)
GUESTS = _from_cwd(Path(__file__).resolve().parents[3] / "guests")

# Guest ABI constants the Python side needs, taken from guest_abi.h.
ABI_CONSTANTS = (
    "MAX_SLOTS",
    "MAX_VCPUS",
    "VCPU_AREA",
    "MAX_ITERS",
    "RING_UNROLL",
    "NKINDS",
    "HIST_BUCKETS",
    "GUEST_RAM_SIZE",
    "GUEST_CODE",
    "MB_SLOTS",
    "CTR_BASE",
    "CTR_STRIDE",
    "CTR_RINGS",
    "CTR_SAMPLES",
    "CTR_CYCLES",
    "CTR_ISSUED",
    "CTR_HIST",
    "SLOT_KIND",
    "PARK_PORT",
    "FAULT_PORT",
    "ENTRY_LAB",
    "ENTRY_BARE",
    "ENTRY_ROUNDTRIP",
    "RT_PATH_IOEVENTFD",
    "RT_PATH_USER",
    "RT_PATH_SELF_IPI",
    "RT_RECORDS",
    "RT_VEC_COUNT",
    "RT_PORT",
    "RT_USER_PORT",
    "IOAPIC_BASE",
    "LAPIC_BASE",
    "RT_SKIP_EOI",
    "RT_ROUTE_MSI",
    "RT_ROUTE_PIN",
    "RT_MASK_LAPIC",
    "CPL_KICKS",
    "CPL_HLTS",
    "KIND_CPL",
    "KIND_PIO1",
    "KIND_PIO2",
    "KIND_PIO4",
    "KIND_MMIO1",
    "KIND_MMIO2",
    "KIND_MMIO4",
    "KIND_MMIO8",
)


def _cdef() -> str:
    native = Path(__file__).resolve().parent
    header = (native / "lab.h").read_text()
    match = re.search(r"/\* cdef-begin \*/(.*)/\* cdef-end \*/", header, re.S)
    if match is None:
        raise RuntimeError("lab.h has no cdef markers")
    constants = "\n".join(f"#define {name} ..." for name in ABI_CONSTANTS)
    kvm = (native / "kvm_cdef.h").read_text()
    return match.group(1) + "\n" + constants + "\n" + kvm


def _sources() -> list[str]:
    """Every C file of the engine, in a stable order; a leading `_` marks cffi's own output."""
    sources = [c.as_posix() for c in sorted(NATIVE.glob("*.c")) if not c.name.startswith("_")]
    if not sources:
        raise RuntimeError(
            f"no engine C sources in {NATIVE.resolve()}: build from a complete iofdtui "
            "checkout (pip install -e . in the project root)"
        )
    return sources


def _compile_args() -> list[str]:
    args = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-std=gnu11"]
    if os.environ.get("IOFDTUI_WERROR") == "1":
        args.append("-Werror")
    return args


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "iofdtui.engine.native._lab",
    '#include <linux/kvm.h>\n#include "lab.h"\n#include "guest_abi.h"\n',
    sources=_sources(),
    include_dirs=[NATIVE.as_posix(), GUESTS.as_posix()],
    # A header change rebuilds every source (setuptools compares only these dates).
    depends=[h.as_posix() for h in (*sorted(NATIVE.glob("*.h")), GUESTS / "guest_abi.h")],
    extra_compile_args=_compile_args(),
    libraries=["pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
