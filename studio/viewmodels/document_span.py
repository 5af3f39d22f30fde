"""Where a generation writes in a document while the writer goes on typing: the span follows edits made before it,
an edit into it loses it (the model's text is then offered, never inserted elsewhere), and a generation can move
with its document when the writer opens another one (``detach``) and come back when it is opened again
(``adopt``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from PySide6.QtGui import QTextCursor, QTextDocumentFragment

if TYPE_CHECKING:
    from studio.viewmodels.document_session import DocumentSession

GENERATION_STATE = (
    "gen_start",
    "gen_end",
    "retrying",
    "_retried",
    "_kind",
    "_forced",
    "rewrite",
    "_first_token",
)


class SpanGuard:
    """Follows the writer's edits while a generation is asked for or streams into ``session``'s document."""

    def __init__(self, session: DocumentSession):
        self.session = session
        self.pending = False  # a generation was asked for here and has not ended
        self.lost = False  # the writer edited into the span: the rest is offered, not inserted
        self.offered = ""  # what the model wrote after the span was lost
        self.user_edited = (
            False  # the writer edited since the last token (the next one starts its own undo step)
        )
        self._own = 0
        session.document.contentsChange.connect(self._changed)

    def start(self) -> None:
        self.pending, self.lost, self.offered, self.user_edited = True, False, "", False

    def finish(self) -> None:
        self.pending = False

    @contextlib.contextmanager
    def own(self) -> Iterator[None]:
        """An edit the session makes itself (a token, a branch put in place): not the writer's."""
        self._own += 1
        try:
            yield
        finally:
            self._own -= 1

    def touches(self, start: int, end: int) -> bool:
        """Whether an edit of ``start:end`` would write into the span being written (its ends included)."""
        s = self.session
        return self.pending and not self.lost and start <= s.gen_end and end >= s.gen_start

    def _changed(self, pos: int, removed: int, added: int) -> None:
        s = self.session
        if self._own or not self.pending or self.lost:
            return
        self.user_edited = True
        if pos + removed <= s.gen_start and not (pos == s.gen_start and s.gen_start == s.gen_end and added):
            s.gen_start += added - removed
            s.gen_end += added - removed
        elif pos > s.gen_end:
            return
        else:  # into the span (or at the place the model is about to write)
            self.lost = True
            s.status.emit(
                "You edited the place the model is writing: what it writes from now on is offered when it ends, "
                "not put in the text."
            )


def detach(session: DocumentSession) -> DocumentSession:
    """A copy of ``session`` — its text with the highlight, its story state, its generation — that keeps receiving
    the model's text while the editor shows another document. Saved when the generation ends."""
    copy = type(session)(session.store, session.highlight, parent=session.parent())
    with copy.guard.own():
        QTextCursor(copy.document).insertFragment(QTextDocumentFragment(session.document))
    copy.path, copy.dirty, copy._mtime = session.path, session.dirty, session._mtime
    copy.state, copy.state_dirty = session.state, session.state_dirty
    for name in GENERATION_STATE:
        setattr(copy, name, getattr(session, name))
    copy.guard.pending, copy.guard.lost, copy.guard.offered = True, session.guard.lost, session.guard.offered
    copy._first_token = True  # a new document: its undo history starts here
    session.guard.finish()
    return copy


def adopt(session: DocumentSession, background: DocumentSession) -> None:
    """``session`` has just opened ``background``'s document (saved a moment ago): the generation goes on here."""
    session.state, session.state_dirty = background.state, background.state_dirty
    for name in GENERATION_STATE:
        setattr(session, name, getattr(background, name))
    session._first_token = True
    session.guard.pending, session.guard.lost = True, background.guard.lost
    session.guard.offered = background.guard.offered
    background.guard.finish()
    if session.gen_end > session.gen_start:
        session.paint_generation()
