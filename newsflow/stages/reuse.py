"""Taking a copy's translation and impact analysis from its story instead of the LLM.

A copy (an article placed in an earlier article's story, :mod:`newsflow.stages.stories`)
whose text is nearly all in the matched article's text (``containment`` at or above
``NEWSFLOW_STORY_REUSE_THRESHOLD``) takes that article's translation and impact analysis,
recorded as ``reused`` with the article they came from and the evidence. Below the threshold,
or when the matched article has no usable result, the copy gets its own (through the cache).

Plain logic; the handlers read the matched article from the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from newsflow.domain.article import Article
from newsflow.domain.contracts import ImpactResult, TranslationResult
from newsflow.domain.stories import StoryLink
from newsflow.domain.usage import Reuse
from newsflow.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

#: How often a copy looks whether its matched article's result is there yet (seconds).
POLL_SECONDS = 0.25


def reuse_wait(settings: Settings) -> float:
    """How long a copy waits for its matched article's result: the setting, but never more
    than a third of the handler's time limit."""
    return max(0.0, min(settings.story_reuse_wait, settings.handler_timeout / 3))


def _evidence(link: StoryLink, source_id: str) -> Reuse:
    return Reuse(
        article_id=source_id,
        similarity=link.similarity if link.similarity is not None else 0.0,
        containment=link.containment if link.containment is not None else 0.0,
    )


def reused_translation(
    link: StoryLink | None, source_id: str, source: TranslationResult | None, target: str
) -> TranslationResult | None:
    """The matched article's translation for this copy, or None when it cannot be reused
    (not a contained copy, no translation there, another target language)."""
    if link is None or source is None or source.status != "translated":
        return None
    if source.target_language != target:
        return None
    return source.model_copy(update={"reused": _evidence(link, source_id), "usage": None})


def reused_impact(
    link: StoryLink | None, source_id: str, source: ImpactResult | None
) -> ImpactResult | None:
    """The matched article's impact analysis for this copy, or None (not ``ok`` there)."""
    if link is None or source is None or source.status != "ok" or source.impact is None:
        return None
    return source.model_copy(update={"reused": _evidence(link, source_id), "usage": None})


async def wait_until(
    read: Callable[[], Awaitable[T | None]],
    ready: Callable[[T], bool],
    timeout: float,
    *,
    interval: float = POLL_SECONDS,
) -> T | None:
    """``read()`` until ``ready`` says its value is final, for at most ``timeout`` seconds.

    Returns the last value read (final or not; None when there was none).
    """
    deadline = time.monotonic() + timeout
    value = await read()
    while value is not None and not ready(value) and time.monotonic() < deadline:
        await asyncio.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        value = await read()
    return value


async def story_source(
    link: StoryLink | None,
    settings: Settings,
    load: Callable[[str], Awaitable[Article | None]],
    result: Callable[[Article], R | None],
) -> tuple[StoryLink, str, R] | None:
    """The stage's ``result`` on the article this one is a close enough copy of
    (:meth:`StoryLink.reusable`), with the link and that article's id: read with ``load``
    until it has the result or failed, for at most :func:`reuse_wait`. None when this article
    is no such copy, or that one has no such result. The translator and the analyzer each ask
    it before calling a model."""
    if link is None or link.matched is None or not link.reusable(settings.story_reuse_threshold):
        return None
    matched = link.matched
    source = await wait_until(
        lambda: load(matched),
        lambda a: result(a) is not None or a.failed is not None,
        reuse_wait(settings),
    )
    found = result(source) if source is not None else None
    return (link, matched, found) if found is not None else None
