"""Why attaching cannot go on, each one line with the fix."""

from __future__ import annotations

import errno as E

from iofdtui.engine.errors import EngineError

MOUNT_FIX = "mount it (`mount -t tracefs nodev /sys/kernel/tracing`) and run as root"


class TraceUnavailable(EngineError):
    """tracefs is not mounted, not writable, or lacks the kvm events."""

    title = "Kernel tracing unavailable"


class NoSuchVm(EngineError):
    """The process asked for is gone, or holds no KVM VM."""

    title = "No such VM"


def not_mounted() -> TraceUnavailable:
    """tracefs is mounted nowhere this process can see."""
    return TraceUnavailable(E.ENOENT, f"tracefs is not mounted; {MOUNT_FIX}")


def refused(path: str, err: OSError) -> TraceUnavailable:
    """The kernel refused an operation on tracefs (usually: not root)."""
    cause = err.strerror or type(err).__name__
    return TraceUnavailable(err.errno or E.EACCES, f"{path}: {cause}; run as root (tracefs is)")
