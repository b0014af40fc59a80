"""Replay: the app on a recording instead of a live lab (`iofdtui replay`).

`playback` is the clock (position, speed, live edge), `replay_lab` a read-only
`LabPort` over the frames, `timeline` the widget in place of the lab's
controls, `screen` the main screen made to replay, `app` the app and the
checks made before any TUI opens.  Nothing here loads the native engine.
"""
