"""cffi (API mode) build script for the attach tracer's hot path (`tally.c`).

The cdef is `tally.h` between its markers.  Found from this file, not the cwd.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
try:
    SRC = HERE.relative_to(Path.cwd().resolve())  # setuptools wants relative source paths
except ValueError:
    SRC = HERE


def _cdef() -> str:
    header = (HERE / "tally.h").read_text()
    match = re.search(r"/\* cdef-begin \*/(.*)/\* cdef-end \*/", header, re.S)
    if match is None:
        raise RuntimeError("tally.h has no cdef markers")
    return match.group(1)


def _compile_args() -> list[str]:
    args = ["-O2", "-Wall", "-Wextra", "-std=gnu11"]
    if os.environ.get("IOFDTUI_WERROR") == "1":
        args.append("-Werror")
    return args


ffibuilder = FFI()
ffibuilder.cdef(_cdef())
ffibuilder.set_source(
    "iofdtui.engine.attach.native._tally",
    '#include "tally.h"\n',
    sources=[(SRC / "tally.c").as_posix(), (SRC / "counters.c").as_posix()],
    include_dirs=[SRC.as_posix()],
    depends=[(SRC / "tally.h").as_posix(), (SRC / "counters.h").as_posix()],
    extra_compile_args=_compile_args(),
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
