"""A line of the detail pane that repaints only when what it says changes."""

from __future__ import annotations

from collections.abc import Hashable

from textual.content import Content
from textual.widgets import Static


def _key(content: str | Content) -> Hashable:
    # Content compares by plain text alone; a change of style must repaint too.
    if isinstance(content, Content):
        return content.plain, tuple(content.spans)
    return content


class DetailLine(Static):
    """A Static that repaints only when its text or styles change, and asks for a
    layout of the screen only when its height changes too."""

    def __init__(self, content: str = "", *, id: str | None = None) -> None:
        super().__init__(content, id=id)
        self._shown: Hashable = _key(content)

    def show(self, content: str | Content) -> None:
        """Show `content`, unless it is what the line shows already."""
        key = _key(content)
        if key == self._shown:
            return
        self._shown = key
        self.update(content, layout=False)
        width = self.content_size.width
        if not width or self.visual.get_height(self.styles, width) != self.content_size.height:
            self.refresh(layout=True)
