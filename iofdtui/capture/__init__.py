"""Taking recordings from a live lab: what a frame carries, and `iofdtui record`.

Above `iofdtui.recording` (the file format) and the engine; the app's own
recording (`--record`, `R`) lives in the UI and uses `histograms` from here.
"""
