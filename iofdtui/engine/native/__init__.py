"""The compiled engine core (cffi API mode), with one place that turns its
`-errno` returns into exceptions."""

from __future__ import annotations

import os

try:
    from iofdtui.engine.native._lab import ffi, lib
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "iofdtui's native engine is not built; reinstall with `pip install -e .` "
        f"(needs gcc and binutils): {err}"
    ) from err

__all__ = ["check", "ffi", "lib"]


def check(rc: int, what: str) -> int:
    """Return `rc` when it is not negative, else raise EngineError(-rc) (an OSError)."""
    if rc < 0:
        from iofdtui.engine.errors import EngineError

        raise EngineError(-rc, f"{what}: {os.strerror(-rc)}")
    return rc
