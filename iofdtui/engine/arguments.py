"""Checks on what callers pass to `Lab`: each refuses in one line, before any
native call (cffi would otherwise raise OverflowError or TypeError)."""

from __future__ import annotations

import errno as E
import math

from iofdtui.engine.errors import RegistrationRejected
from iofdtui.engine.model import RegistrationSpec
from iofdtui.engine.native import lib


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float (not a bool)."""
    return is_int(value) or (isinstance(value, float) and math.isfinite(value))


def check_id(reg_id: object) -> None:
    """A registration id is an int."""
    if not is_int(reg_id):
        raise ValueError(f"a registration id is an int, not {reg_id!r}")


def check_spec(spec: object) -> None:
    """A registration is a RegistrationSpec (refused as a rejection, as the UI shows it)."""
    if not isinstance(spec, RegistrationSpec):
        raise RegistrationRejected(
            E.EINVAL, f"a registration is a RegistrationSpec, not {type(spec).__name__}", "spec"
        )


def check_mode(mode: object) -> None:
    """An enum lab_mode value (LAB_MODE_CURRENT included)."""
    if not is_int(mode) or not -1 <= mode < lib.LAB_MODES:  # type: ignore[operator]
        raise ValueError(f"mode must be an enum lab_mode value, not {mode!r}")


def check_gpa(gpa: object) -> None:
    """A guest-physical address the test hooks may touch: aligned, inside guest RAM."""
    if not is_int(gpa):
        raise ValueError(f"a guest-physical address must be an integer, not {gpa!r}")
    limit = lib.GUEST_RAM_SIZE - 4
    if not 0 <= gpa <= limit or gpa % 4:  # type: ignore[operator]
        raise ValueError(
            f"guest address {gpa:#x} is not a 4-byte-aligned address inside guest RAM "
            f"(0..{limit:#x})"
        )
