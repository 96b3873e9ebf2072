"""The list views people pick (newest, bullish, bearish, important, hot) and the hot score.

Plain logic: the store turns a view into its query (see ``ArticleStore``), the reader's
pages, its JSON API and its feeds all go through it, so a view means the same everywhere.

The hot score (Hacker-News-like, computed on read)::

    engagement = up - down + 2 * important + comments + reports
    hot        = (1 + engagement) / (age_hours + 2) ** 1.5

``reports`` is how many times the same article was submitted again after the first (by
people or by feed polling): a story several feeds and readers bring in is reported several
times. ``age_hours`` is the time since the article's event time (its publication time, else
when Newsflow received it), never negative. The ``1 +`` lets unvoted news rank by recency,
so a fresh article with no votes sits above a day-old one with a few.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal, get_args

View = Literal["latest", "bullish", "bearish", "important", "hot"]
VIEWS: tuple[str, ...] = get_args(View)
#: How fast age pulls a story down (Hacker News uses 1.8; 1.5 keeps a day-old story visible).
GRAVITY = 1.5
#: Weight of an "important" vote against a +1.
IMPORTANT_WEIGHT = 2


def engagement(votes: Mapping[str, int], reports: int) -> int:
    """``up - down + 2 * important + comments + reports``."""
    return (
        int(votes.get("up", 0))
        - int(votes.get("down", 0))
        + IMPORTANT_WEIGHT * int(votes.get("important", 0))
        + int(votes.get("comments", 0))
        + max(0, reports)
    )


def age_hours(event_time: datetime | None, now: datetime) -> float:
    """Hours from ``event_time`` to ``now`` (0 for a missing or future time)."""
    if event_time is None:
        return 0.0
    return max(0.0, (now - event_time).total_seconds() / 3600.0)


def hot_score(votes: Mapping[str, int], reports: int, hours: float) -> float:
    """``(1 + engagement) / (hours + 2) ** 1.5`` (see the module docstring)."""
    return (1 + engagement(votes, reports)) / (max(0.0, hours) + 2) ** GRAVITY
