"""Community votes and comments: the kinds of vote, a comment, and what a comment may hold.

The store keeps them (:meth:`newsflow.adapters.store.ArticleStore.vote`,
:meth:`~newsflow.adapters.store.ArticleStore.add_comment`); the counters are
:class:`newsflow.domain.article.VoteCounts` on the article.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

VoteKind = Literal["up", "down", "important"]
VOTE_KINDS: tuple[VoteKind, ...] = get_args(VoteKind)


class InvalidComment(ValueError):
    """A comment that cannot be stored; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class Comment:
    id: str
    article_id: str
    text: str
    author: str | None
    created_at: datetime


def clean_comment(text: str, max_chars: int) -> str:
    """The comment as stored: stripped, checked for length and control characters."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise InvalidComment("the comment is empty")
    if len(text) > max_chars:
        raise InvalidComment(f"the comment is longer than {max_chars} characters ({len(text)})")
    if any((ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7F for c in text):
        raise InvalidComment("the comment contains control characters")
    return text


def clean_author(author: str | None) -> str | None:
    """The author as stored: stripped, at most 80 characters, None when empty."""
    return (author or "").strip()[:80] or None
