"""Community votes on articles: +1, -1, important, and comments.

The counters live on the article (``votes.{up,down,important,comments}``, created at intake)
and move only with ``$inc``, so concurrent votes never lose one another. Comments are their
own documents in ``<collection>_comments``, each counted once on its article.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from pymongo import ASCENDING, DESCENDING, ReturnDocument

from newsflow.adapters.store import ArticleNotFound, ArticleStore, now

VoteKind = Literal["up", "down", "important"]
VOTE_KINDS: tuple[str, ...] = get_args(VoteKind)
COUNTERS: tuple[str, ...] = (*VOTE_KINDS, "comments")


class InvalidComment(ValueError):
    """A comment that cannot be stored; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class Comment:
    id: str
    article_id: str
    text: str
    author: str | None
    created_at: datetime


def counts(doc: dict[str, Any] | None) -> dict[str, int]:
    """The four counters of an article document, zero where absent."""
    votes = (doc or {}).get("votes") or {}
    return {k: int(votes.get(k) or 0) for k in COUNTERS}


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


class Votes:
    """Votes and comments of the articles in ``store``."""

    def __init__(self, store: ArticleStore) -> None:
        self.articles = store.articles
        self.comments = store.db[f"{store.articles.name}_comments"]

    async def ensure_indexes(self) -> None:
        await self.comments.create_index([("article_id", ASCENDING), ("created_at", DESCENDING)])

    async def cast(self, aid: str, kind: VoteKind) -> dict[str, int]:
        """Count one vote of ``kind`` on the article; returns its counters after the vote."""
        if kind not in VOTE_KINDS:
            raise ValueError(f"unknown vote {kind!r}; expected one of {', '.join(VOTE_KINDS)}")
        doc = await self.articles.find_one_and_update(
            {"_id": aid},
            {"$inc": {f"votes.{kind}": 1}},
            projection={"votes": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise ArticleNotFound(f"no article with id {aid}")
        return counts(doc)

    async def add_comment(
        self, aid: str, text: str, *, author: str | None = None, max_chars: int = 2_000
    ) -> tuple[Comment, dict[str, int]]:
        """Store a comment (checked by :func:`clean_comment`) and count it on the article."""
        text = clean_comment(text, max_chars)
        author = (author or "").strip()[:80] or None
        if not await self.articles.count_documents({"_id": aid}, limit=1):
            raise ArticleNotFound(f"no article with id {aid}")
        comment = Comment(uuid.uuid4().hex, aid, text, author, now())
        await self.comments.insert_one(
            {
                "_id": comment.id,
                "article_id": aid,
                "text": text,
                "author": author,
                "created_at": comment.created_at,
            }
        )
        doc = await self.articles.find_one_and_update(
            {"_id": aid},
            {"$inc": {"votes.comments": 1}},
            projection={"votes": 1},
            return_document=ReturnDocument.AFTER,
        )
        return comment, counts(doc)

    async def list_comments(self, aid: str, limit: int = 50) -> list[Comment]:
        """The article's comments, newest first."""
        cursor = self.comments.find({"article_id": aid}).sort("created_at", DESCENDING).limit(limit)
        return [
            Comment(d["_id"], d["article_id"], d["text"], d.get("author"), d["created_at"])
            async for d in cursor
        ]
