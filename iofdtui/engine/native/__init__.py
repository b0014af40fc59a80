"""The compiled engine core (cffi API mode), with the one place that turns its
`-errno` returns into exceptions (`check`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

try:
    from iofdtui.engine.native._lab import ffi, lib
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        "iofdtui's native engine is not built; reinstall with `pip install -e .` "
        f"(needs gcc and binutils): {err}"
    ) from err

if TYPE_CHECKING:
    from iofdtui.engine.errors import Raising

__all__ = ["check", "ffi", "lib"]


def check(rc: int, what: str, raising: Raising | Mapping[int, Raising] | None = None) -> int:
    """Return `rc` when it is not negative, else raise the EngineError for -rc.

    `raising` names the error: a class of the EngineError tree (all OSErrors,
    so `errno` stays readable), or a map errno -> class; EngineError otherwise.
    E.g. `check(rc, "pausing the guest", raising={errno.ETIMEDOUT: PauseTimeout})`.
    """
    if rc < 0:
        # errors.py imports this module (for lib): import it when needed.
        from iofdtui.engine.errors import from_errno

        raise from_errno(-rc, what, raising)
    return rc
