"""The app on an attached VM: a read-only view of its doorbells, from the kernel's tracepoints."""
