"""The status line of a page: one sentence on how the last action or read went.

Every page that changes something says how it went in the same place, in the same words
and colours: :class:`StatusLine`. What a person did is *said* (``say``: green when it
went well, dark red when not) and stays until the next thing is said; a *notice* (``notice``:
"Log on to see ...", a read the session may not make) is provisional, and the page
withdraws it (``withdraw_notice``) once the reason for it is gone, without wiping out a
result someone is still reading.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from .wizards import ERROR_STYLE, GOOD_STYLE

__all__ = ["StatusLine"]


class StatusLine(QLabel):
    """A word-wrapped line under a page's toolbar.

    ``good_style`` is the style of a line that reports success (the pages that list
    records show it in green; the ones that report mostly readings, in the plain colour).
    ``selectable`` lets people copy the text (a file name, a job id). A line that
    ``hides_when_empty`` takes no room while it has nothing to say.
    """

    def __init__(
        self,
        name: str,
        parent: QWidget,
        *,
        good_style: str = GOOD_STYLE,
        selectable: bool = True,
        hides_when_empty: bool = True,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.setWordWrap(True)
        if selectable:
            self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._good_style = good_style
        self._hides_when_empty = hides_when_empty
        self._bad = False
        self._provisional = False
        if hides_when_empty:
            self.hide()  # until there is something to say

    @property
    def bad(self) -> bool:
        """Whether the line shows a failure."""
        return self._bad

    @property
    def provisional(self) -> bool:
        """Whether the line shows a notice that ``withdraw_notice`` would clear."""
        return self._provisional

    def say(self, text: str, *, bad: bool = False) -> None:
        """Show how something went (an empty ``text`` clears the line)."""
        self._show(text, ERROR_STYLE if bad else self._good_style, bad=bad)

    def notice(self, text: str, *, bad: bool = False) -> None:
        """Show a provisional notice, in the plain colour unless ``bad``."""
        self._show(text, ERROR_STYLE if bad else "", bad=bad)
        self._provisional = True

    def withdraw_notice(self) -> None:
        """Clear the line if it still shows a notice; a result said since stays."""
        if self._provisional:
            self.say("")

    def _show(self, text: str, style: str, *, bad: bool) -> None:
        self._bad = bad
        self._provisional = False
        self.setText(text)
        if self._hides_when_empty:
            self.setVisible(bool(text))
        self.setStyleSheet(style)
