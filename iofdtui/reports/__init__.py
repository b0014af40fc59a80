"""What the engine measured, as text: shared by the CLI and the UI, never imported by the engine.

- `format`: a figure as text, in both looks (the UI's `1.38µs`, the tables' `1,381`).
- `bench`, `scale`, `wake`, `vcpus`: each experiment's report as Rich tables and notes.
- `blocks`: the pieces those are built of (a titled table, the machine header).
- `printing`: a report printed whole, every table at its natural width.
"""
