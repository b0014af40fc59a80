"""Recordings: a session's readings, events and histograms in a JSON Lines file.

`frames` holds the data types, `codec` turns them into JSON and back,
`writer` writes a recording as it is made, `reader` reads (or tails) one,
`export` turns one into CSV or JSON tables.  This package imports only the
engine's data types, never the lab, so a recording can be replayed or
exported on a machine with no compiled engine and no /dev/kvm.
"""
