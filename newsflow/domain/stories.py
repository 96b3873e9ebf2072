"""Stories: one news event from many sources. What an article records of its story.

An article whose text is a near-duplicate of an earlier one's joins that article's story
(:mod:`newsflow.stages.stories` decides, the store places it). Each article carries a small
:class:`StoryLink` (its story's id and the evidence of the merge); the story itself is a
summary document (:class:`StorySummary`: member count, the first few source names) and its
members are found by an indexed query on ``story.id``, so a story with thousands of copies
never grows one document without bound.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

#: Source names kept on a story summary (the count of members is exact; names stop here).
MAX_STORY_SOURCES = 20


class StoryLink(BaseModel):
    """The ``story`` field of an article."""

    model_config = ConfigDict(extra="ignore")

    #: The story: the id of its first article.
    id: str
    #: True for the story's first article (and for an article with no earlier copy).
    first: bool
    #: The earlier article this one is a copy of, and the estimated similarity of the texts
    #: (Jaccard of their shingles) and share of this text found in that one.
    matched: str | None = None
    similarity: float | None = None
    containment: float | None = None
    #: The fingerprint method (None: the text was too short to fingerprint).
    method: str | None = None
    placed_at: datetime | None = None
    #: Why the article stands alone without a comparison (e.g. text too short).
    note: str | None = None

    def reusable(self, threshold: float) -> bool:
        """Whether this copy may take its matched article's LLM results: nearly all of its
        text (``containment``) is in the matched article's text."""
        return (
            not self.first
            and self.matched is not None
            and self.containment is not None
            and self.containment >= threshold
        )


class StorySummary(BaseModel):
    """A story as the reader lists it."""

    id: str
    first_article: str
    first_seen: datetime | None = None
    #: Articles in the story (the first included).
    members: int = 1
    #: Distinct source names, in the order they joined, at most :data:`MAX_STORY_SOURCES`.
    sources: list[str] = []


class StoryMember(BaseModel):
    """One article of a story, for the article page and the API."""

    id: str
    short_id: str
    url: str
    source: str | None = None
    title: str | None = None
    status: str | None = None
    first: bool = False
    matched: str | None = None
    similarity: float | None = None
    containment: float | None = None
    placed_at: datetime | None = None
