"""`iofdtui serve`: the presenter's app in the terminal, its lab watched from browsers.

`web` is the web server (textual-serve), run in a process of its own;
`server` starts, watches and stops that process from the presenter's side;
`presenter` runs the presenter's app beside it and tells them where it is served.
"""
