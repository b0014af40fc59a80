"""Attach to any KVM process and count its doorbells from the kernel's tracepoints.

No Textual, no Rich: data in, frozen dataclasses out (snapshot.py).
- processes.py: KVM processes from /proc (VM and vCPU fds, eventfds, vCPU threads).
- tracefs.py: a tracefs instance of our own, made, read and always removed.
- tally.py (and native/tally.c): raw ring-buffer pages decoded, and which path
  served each write (in the kernel, or a userspace exit), counted in C.
- tracer.py: `Tracer`, the facade; snapshot.py: what it returns.
"""
