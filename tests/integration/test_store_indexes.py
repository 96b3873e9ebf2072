"""The articles' indexes on a real SecantusDB: the indexes of earlier versions that no query
uses are dropped at start, and the lists served by the indexes of fields most articles lack
find every article they should."""

from __future__ import annotations

from datetime import timedelta

import pytest

from newsflow.adapters.store import ArticleFilter, ArticleStore
from newsflow.settings import Settings
from tests.support.articles import T0, analyzed

pytestmark = pytest.mark.integration

#: What versions before 2026-11-28 created and no query uses.
OLD_INDEXES = [
    [("analysis.keywords", 1)],
    [("extraction.published", -1)],
    [("analysis.symbols", 1)],
    [("source", 1)],
]


async def test_the_unused_indexes_of_an_earlier_version_are_dropped_at_start(
    settings: Settings,
) -> None:
    local = settings.model_copy(update={"mongo_db": f"{settings.mongo_db}_old_indexes"})
    store = ArticleStore.connect(local)
    try:
        for keys in OLD_INDEXES:
            await store._articles.create_index(keys)
        await store._articles.create_index([("url", 1)], name="an_operators_own")
        await store.ensure_indexes()
        await store.ensure_indexes()  # a second worker starting: nothing left to drop
        info = await store._articles.index_information()
        assert set(info) == {
            "_id_", "short_id_1", "status_1_created_at_-1", "created_at_-1__id_-1",
            "analysis.symbols_1_created_at_-1", "source_1_created_at_-1",
            "analysis.impact.impact.direction_1_created_at_-1",
            "votes.important_-1_created_at_-1", "status_1_updated_at_1",
            "event_at_-1__id_-1", "votes.up_-1_event_at_-1",
            "analysis.impact.impact.confidence_-1_event_at_-1", "translation.status_1",
            "analysis.impact.status_1", "story.id_1", "embedding.at_1",
            "an_operators_own",
        }  # fmt: skip
    finally:
        await store.drop()
        store.close()


async def test_the_lists_of_fields_most_articles_lack_find_every_article_they_should(
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
