"""The engine calls that shape a registration's completion (its device work), as
`engine_calls.py`'s: plain blocking functions of a `LabPort` that the session runs
in its worker, each returning what it did."""

from __future__ import annotations

from iofdtui.ui.lab_port import LabPort
from iofdtui.ui.messages import DeviceWorkChanged


def set_device_work(lab: LabPort, reg_id: int, work_us: float) -> DeviceWorkChanged:
    """Registration #reg_id's device spins `work_us` µs before each answer (raises,
    one line, when it has no completion or the value is out of bounds)."""
    lab.set_device_work(work_us, reg_id=reg_id)
    return DeviceWorkChanged(reg_id, work_us)
