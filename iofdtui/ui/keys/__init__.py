"""The app's keys as data: what each command is (`command.py`) and the tables of
the lab's commands (`lab.py`) and the replay timeline's (`replay.py`).
`ui/bindings.py` turns them into Textual bindings, the palette and the help."""
