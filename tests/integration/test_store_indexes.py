"""The articles' indexes on a real SecantusDB: the ones of fields most articles lack are
partial, the lists they serve still find every article they should, and the indexes of
earlier versions are dropped at start."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsflow.adapters.store import ArticleFilter, ArticleStore
from newsflow.settings import Settings
from tests.support.articles import T0, analyzed

pytestmark = pytest.mark.integration

#: What versions before 2026-11-28 created (the same keys, whole, or unused now).
OLD_INDEXES = [
    [("analysis.impact.impact.direction", 1), ("created_at", -1)],
    [("votes.important", -1), ("created_at", -1)],
    [("analysis.impact.impact.confidence", -1), ("event_at", -1)],
    [("translation.status", 1)],
    [("analysis.impact.status", 1)],
    [("analysis.symbols", 1)],
    [("source", 1)],
]


async def test_a_store_of_an_earlier_version_gets_the_partial_indexes_instead(
    settings: Settings,
) -> None:
    local = settings.model_copy(update={"mongo_db": f"{settings.mongo_db}_old_indexes"})
    store = ArticleStore.connect(local)
    try:
        for keys in OLD_INDEXES:
            await store._articles.create_index(keys)
        await store.ensure_indexes()
        await store.ensure_indexes()  # a second worker starting: nothing left to drop
        info = await store._articles.index_information()
        assert not [name for name in info if name in {"source_1", "analysis.symbols_1",
                    "translation.status_1"}]  # fmt: skip
        partial = {name: spec["partialFilterExpression"] for name, spec in info.items()
                   if "partialFilterExpression" in spec}  # fmt: skip
        assert partial == {
            "direction_created_at": {"analysis.impact.impact.direction": {"$gte": ""}},
            "important_created_at": {"votes.important": {"$gte": 1}},
            "confidence_event_at": {"analysis.impact.impact.confidence": {"$gte": 0}},
            "deferred_translation": {"translation.status": "deferred"},
            "deferred_impact": {"analysis.impact.status": "deferred"},
        }
        whole = {"_id_", "short_id_1", "status_1_created_at_-1", "created_at_-1__id_-1",
                 "analysis.symbols_1_created_at_-1", "source_1_created_at_-1",
                 "status_1_updated_at_1", "event_at_-1__id_-1", "votes.up_-1_event_at_-1",
                 "story.id_1", "embedding.at_1"}  # fmt: skip
        assert set(info) == whole | set(partial)
    finally:
        await store.drop()
        store.close()


async def test_the_lists_of_partial_indexes_find_every_article_they_should(
    store: ArticleStore,
) -> None:
    docs = [
        analyzed(f"https://news.test/{n}", title=f"story {n}", direction=direction,
                 confidence=confidence, votes={"important": important},
                 created=T0 + timedelta(minutes=n))
        for n, (direction, confidence, important) in enumerate([
            ("bullish", 0.9, 0), ("bearish", 0.0, 1), (None, 0.8, 3), ("bullish", 0.4, 2),
        ])
    ]  # fmt: skip
    await store.import_documents(docs)

    async def titles(where: ArticleFilter) -> list[str]:
        return [a.headline for a in (await store.page(where)).items]

    assert await titles(ArticleFilter(view="bullish")) == ["story 3", "story 0"]
    assert await titles(ArticleFilter(view="bearish")) == ["story 1"]
    assert await titles(ArticleFilter(view="important")) == ["story 3", "story 2", "story 1"]
    assert await titles(ArticleFilter(important=3)) == ["story 2"]
    # by impact: the articles with an impact analysis (a confidence of 0 included)
    assert await titles(ArticleFilter(sort="impact")) == ["story 0", "story 3", "story 1"]
