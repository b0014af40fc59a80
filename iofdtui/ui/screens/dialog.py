"""The look every modal box shares: centred over the lab, a thick border, its own surface."""

from __future__ import annotations

from typing import TypeVar

from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    """A modal screen whose box (the child with class `dialog`) has the shared look.

    Subclasses set only what is theirs: the box's width, their own rows.
    The problem line (`#problem`) and the button row (`#buttons`) of a form
    look the same in every form.
    """

    DEFAULT_CSS = """
    Dialog { align: center middle; }
    Dialog > .dialog {
        max-width: 100%;
        height: auto;
        border: thick $accent;
        background: $surface;
        padding: 0 1;
    }
    Dialog #problem { height: auto; color: $error; }
    Dialog #problem.-ok { color: $success; }
    Dialog #buttons { height: auto; align-horizontal: right; }
    Dialog #buttons > Button { margin: 0 0 0 1; }
    """
