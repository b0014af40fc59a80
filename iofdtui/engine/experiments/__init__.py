"""Experiments that drive a Lab and return data: the bench, the scale sweep, the
wake-up bench and the two-vCPU bench (their renderings live in iofdtui.reports)."""
