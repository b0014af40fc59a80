"""The attach tracer's compiled hot path (cffi API mode): see tally.h."""

from __future__ import annotations

try:
    from iofdtui.engine.attach.native._tally import ffi, lib
except ImportError as err:  # pragma: no cover - only on a broken install
    raise ImportError(
        f"iofdtui's attach decoder is not built; reinstall with `pip install -e .`: {err}"
    ) from err

__all__ = ["ffi", "lib"]
