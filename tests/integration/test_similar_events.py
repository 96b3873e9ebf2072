"""Similar events on a real SecantusDB: BM25 terms through capped postings, stories, the
refresh of later articles, and semantic neighbours through the stand-in ``/embeddings``
endpoint (across languages, through the stored English translation)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from newsflow.adapters.embeddings import EmbeddingsClient
from newsflow.adapters.similar import STATS_ID
from newsflow.adapters.similar_events import SimilarEvents
from newsflow.adapters.store import ArticleStore
from newsflow.domain.article import Article
from newsflow.settings import Settings
from newsflow.stages.similar_events import POSTINGS, event_terms
from tests.support.llm_server import LLMServer, gloss

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FILLER = (
    "The company said on Monday that the results were in line with what analysts expected, "
    "and the market reacted calmly to the news in early trading."
)


def doc(aid: str, title: str, text: str, *, days: float, story: str | None = None,
        translation: tuple[str, str] | None = None, lang: str = "en") -> dict[str, Any]:  # fmt: skip
    when = T0 + timedelta(days=days)
    d: dict[str, Any] = {
        "_id": aid, "url": f"https://news.test/{aid}", "status": "translated",
        "created_at": when,
        "extraction": {"status": "ok", "title": title, "text": text, "language": lang,
                       "published": when},
        "story": {"id": story or aid, "first": story in (None, aid)},
    }  # fmt: skip
    if translation is not None:
        d["translation"] = {"status": "translated", "title": translation[0],
                            "text": translation[1]}  # fmt: skip
    return d


async def analyze(store: ArticleStore, finder: SimilarEvents, d: dict[str, Any],
                  symbols: list[str] = ()) -> Article:  # type: ignore[assignment]  # fmt: skip
    """What the analyzer does: find the similar events, store the analysis."""
    await store.import_documents([d])
    article = Article.from_document(d)
    similar = await finder.find(article, symbols=list(symbols), keywords=[])
    await store.similar._articles.update_one(
        {"_id": d["_id"]},
        {"$set": {"status": "analyzed",
                  "analysis": {"status": "ok", "symbols": list(symbols),
                               "similar": [s.model_dump() for s in similar]}}},
    )  # fmt: skip
    return Article.from_document(await store.similar._articles.find_one({"_id": d["_id"]}))


STADIA = ("Google Stadia launches with twelve games and missing features",
          "Google's Stadia cloud gaming service launched on Tuesday with twelve games. "
          "Reviewers said Stadia lacks achievements and family sharing. " + FILLER)  # fmt: skip
STADIA_2 = ("Stadia review: Google's cloud gaming works, but the library is thin",
            "Playing Destiny 2 on Stadia over home broadband worked well, the reviewer said; "
            "Google promises more Stadia games and achievements next year. " + FILLER)  # fmt: skip
GENERIC = ("Company reports quarterly results in line with expectations",
           FILLER + " The company will publish its annual report next month.")  # fmt: skip
DUVET = ("Feather duvet caused man's lung disease, doctors say",
         "Doctors in Birmingham found that a feather duvet caused hypersensitivity "
         "pneumonitis in a 43-year-old man. " + FILLER)  # fmt: skip


TOPICS = [
    "wheat harvest",
    "railway strike",
    "museum reopening",
    "chess final",
    "coral reef",
    "bridge repair",
    "vaccine trial",
    "jazz festival",
    "copper mine",
    "ferry delay",
    "wildfire season",
    "satellite launch",
    "tax reform",
    "marathon record",
    "opera house",
    "salmon farming",
    "drone delivery",
    "glacier melt",
    "housing permits",
    "tram line",
]


async def background(store: ArticleStore, finder: SimilarEvents) -> None:
    """Twenty earlier articles on other subjects in the same newsroom prose: what makes
    the filler words common (IDF needs a collection to tell generic words)."""
    for n, topic in enumerate(TOPICS):
        await analyze(
            store,
            finder,
            doc(
                f"bg{n}",
                f"Update on the {topic}",
                f"News about the {topic}. {FILLER}",
                days=-30 + n,
            ),
        )


async def test_lexical_finds_the_earlier_event_with_its_shared_terms(
    store: ArticleStore, settings: Settings
) -> None:
    finder = SimilarEvents(store.similar, settings)
    await background(store, finder)
    await analyze(store, finder, doc("stadia1", *STADIA, days=0))
    await analyze(store, finder, doc("generic", *GENERIC, days=0.5))
    await analyze(store, finder, doc("duvet", *DUVET, days=0.6))
    later = await analyze(store, finder, doc("stadia2", *STADIA_2, days=1))
    similar = later.analysis.similar if later.analysis else []
    assert [s.id for s in similar][:1] == ["stadia1"]
    first = similar[0]
    assert first.method == "lexical" and "stadia" in first.shared
    assert first.evidence is not None and first.evidence.startswith("shared: ")
    # the article about nothing in particular shares only generic words: below the floor
    assert "generic" not in [s.id for s in similar]
    assert "duvet" not in [s.id for s in similar]
    # frequencies are kept incrementally: 24 articles indexed, "stadia" in two
    stats = await store.similar._terms.find_one({"_id": STATS_ID})
    assert stats is not None and stats["n"] == 24
    assert (await store.similar._terms.find_one({"_id": "stadia"}))["df"] == 2


async def test_related_articles_analyzed_at_once_find_each_other(
    store: ArticleStore, settings: Settings
) -> None:
    """A worker analyzes several articles at once: two related ones looked up together,
    each before the other was indexed, listed neither (outside review). The lookup and the
    indexing are one article at a time in a worker, so the later one lists the earlier."""
    finder = SimilarEvents(store.similar, settings)
    await background(store, finder)
    first, second = doc("stadia1", *STADIA, days=0), doc("stadia2", *STADIA_2, days=1)
    await store.import_documents([first, second])
    earlier, later = await asyncio.gather(
        *(finder.search(Article.from_document(d), symbols=[], keywords=[]) for d in (first, second))
    )
    assert [s.id for s in later.similar][:1] == ["stadia1"]
    assert earlier.index_entry is not None and later.index_entry is not None


async def test_copies_of_the_same_story_are_not_listed_and_each_story_once(
    store: ArticleStore, settings: Settings
) -> None:
    finder = SimilarEvents(store.similar, settings)
    await analyze(store, finder, doc("s1", *STADIA, days=0))
    await analyze(store, finder, doc("s1copy", *STADIA, days=0.1, story="s1"))
    await analyze(store, finder, doc("s2", *STADIA_2, days=1))
    # a copy of s2: its own story's articles are never listed; s1's story appears once
    copy = await analyze(store, finder, doc("s2copy", *STADIA_2, days=1.1, story="s2"))
    ids = [s.id for s in copy.analysis.similar] if copy.analysis else []
    assert "s2" not in ids
    assert len([i for i in ids if i in ("s1", "s1copy")]) == 1
    assert {s.story for s in copy.analysis.similar} == {"s1"}  # type: ignore[union-attr]


async def test_a_late_arrival_of_an_earlier_event_refreshes_the_later_list(
    store: ArticleStore, settings: Settings
) -> None:
    finder = SimilarEvents(store.similar, settings)
    later = await analyze(store, finder, doc("later", *STADIA_2, days=2))
    assert later.analysis is not None and later.analysis.similar == []
    # the earlier article arrives afterwards (a feed backfill): the later list gets it
    await analyze(store, finder, doc("earlier", *STADIA, days=0))
    refreshed = Article.from_document(await store.similar._articles.find_one({"_id": "later"}))
    assert refreshed.analysis is not None
    assert [s.id for s in refreshed.analysis.similar] == ["earlier"]
    assert refreshed.analysis.similar[0].shared


async def test_indexing_is_once_per_article_and_postings_keep_the_newest(
    store: ArticleStore, settings: Settings
) -> None:
    finder = SimilarEvents(store.similar, settings)
    article = Article.from_document(doc("x", *DUVET, days=0))
    await store.import_documents([doc("x", *DUVET, days=0)])
    await finder.find(article, symbols=[], keywords=[])
    await finder.find(article, symbols=[], keywords=[])  # a redelivery: counted once
    assert (await store.similar._terms.find_one({"_id": "duvet"}))["df"] == 1
    # the analyzer's path: an article that holds its index entry is not indexed again
    stored = Article.from_document(await store.similar._articles.find_one({"_id": "x"}))
    assert stored.similar_index is not None and "duvet" in stored.similar_index.terms
    found = await finder.search(stored, symbols=[], keywords=[])
    assert found.index_entry is None
    assert (await store.similar._terms.find_one({"_id": "duvet"}))["df"] == 1
    # many articles with one term: the term keeps its newest POSTINGS postings, in order
    for n in range(POSTINGS + 3):
        d = doc(f"d{n}", f"duvet story {n}", f"duvet number {n}", days=1 + n / 1000)
        await store.import_documents([d])
        found = await finder.search(Article.from_document(d), symbols=[], keywords=[])
        assert found.index_entry is not None and "duvet" in found.index_entry["terms"]
    term = await store.similar._terms.find_one({"_id": "duvet"})
    assert term["df"] == POSTINGS + 4
    assert term["e"] == [f"d{n}" for n in range(3, POSTINGS + 3)]


async def test_a_retried_analysis_counts_the_article_once(
    store: ArticleStore, settings: Settings
) -> None:
    # The analyzer indexes, then stores the analysis with the index entry; a handler timeout
    # or a crash between the two runs the search again on an article without the entry. It
    # was counted twice: postings held it twice and every frequency was one too high.
    finder = SimilarEvents(store.similar, settings)
    await store.import_documents([doc("other", *DUVET, days=1)])
    await finder.find(Article.from_document(doc("other", *DUVET, days=1)), symbols=[], keywords=[])
    retried = Article.from_document(doc("x", *DUVET, days=0))
    await store.import_documents([doc("x", *DUVET, days=0)])
    first = await finder.search(retried, symbols=[], keywords=[])
    again = await finder.search(retried, symbols=[], keywords=[])  # the entry was never stored
    assert first.index_entry is not None and again.index_entry is not None
    assert again.index_entry["terms"] == first.index_entry["terms"]
    for name in first.index_entry["terms"]:
        term = await store.similar._terms.find_one({"_id": name})
        assert term["e"].count("x") == 1, name
    duvet = await store.similar._terms.find_one({"_id": "duvet"})
    assert duvet["df"] == 2 and duvet["e"] == ["other", "x"]


async def test_rebuild_indexes_every_analyzed_article_again(
    store: ArticleStore, settings: Settings
) -> None:
    from newsflow.cli.similar import rebuild

    finder = SimilarEvents(store.similar, settings)
    await analyze(store, finder, doc("one", *DUVET, days=0))
    await analyze(store, finder, doc("two", *DUVET, days=1))
    await store.similar._old_postings.insert_one({"_id": "duvet\x1f0", "e": [["one", T0]]})
    unset, refreshed = await rebuild(settings, store, limit=10)
    assert (unset, refreshed) == (2, 2)
    assert (await store.similar._terms.find_one({"_id": "duvet"}))["df"] == 2
    assert await store.similar._old_postings.count_documents({}) == 0
    two = Article.from_document(await store.similar._articles.find_one({"_id": "two"}))
    assert two.analysis is not None and [s.id for s in two.analysis.similar] == ["one"]


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="embed-key") as server:
        yield server


ZH_TITLE = "特斯拉股价大涨 电动车销量创新高"
ZH_TEXT = "特斯拉今天宣布，第三季度电动车销量创新高。特斯拉股价上涨，投资者表示欢迎。"
EN_TESLA = ("Tesla share price surged as electric vehicles sales hit a record high",
            ("Tesla announced that electric vehicles sales hit a record high in the third "
            "quarter; investors welcomed it and the share price rose."))  # fmt: skip


async def test_semantic_neighbours_across_languages_through_the_translation(
    store: ArticleStore, settings: Settings, llm: LLMServer
) -> None:
    embedder = EmbeddingsClient(llm.url, "stand-in-embed", "embed-key")
    standin = settings.model_copy(update={"embed_min_similarity": 0.7})  # the stand-in's floor
    finder = SimilarEvents(store.similar, standin, embedder=embedder)
    assert finder.vectors is not None
    await finder.vectors.load()  # (the worker loads in the background on its first search)
    try:
        await analyze(store, finder, doc("tesla-en", *EN_TESLA, days=0), ["TSLA"])
        await analyze(store, finder, doc("duvet", *DUVET, days=0.2))
        # the Chinese article, translated (the stand-in translator's English)
        zh = doc("tesla-zh", ZH_TITLE, ZH_TEXT, days=1, lang="zh",
                 translation=(gloss(ZH_TITLE), gloss(ZH_TEXT)))  # fmt: skip
        found = await analyze(store, finder, zh, ["TSLA"])
    finally:
        await embedder.aclose()
    similar = found.analysis.similar if found.analysis else []
    assert [s.id for s in similar][:1] == ["tesla-en"]
    top = similar[0]
    assert top.method == "both" and top.semantic is not None and top.semantic > 0.3
    assert top.evidence is not None and f"semantic similarity {top.semantic:.2f}" in top.evidence
    # the vector is stored on the article: a BSON float32 vector of the stand-in's size
    stored = await store.similar._articles.find_one({"_id": "tesla-zh"})
    assert stored["embedding"]["dims"] == 256 and len(stored["embedding"]["vector"]) == 2 + 4 * 256
    # the semantic side saw the Chinese article's English: what was sent to be embedded
    sent = [r.body["input"][0] for r in llm.requests if r.path.endswith("/embeddings")]
    assert any("Tesla" in text for text in sent[2:])


async def test_embeddings_provider_failure_keeps_the_lexical_list(
    store: ArticleStore, settings: Settings, llm: LLMServer
) -> None:
    embedder = EmbeddingsClient(llm.url, "stand-in-embed", "embed-key", retries=0)
    finder = SimilarEvents(store.similar, settings, embedder=embedder)
    try:
        await analyze(store, finder, doc("a", *STADIA, days=0))
        llm.misbehave("500")
        found = await analyze(store, finder, doc("b", *STADIA_2, days=1))
    finally:
        await embedder.aclose()
    assert [s.id for s in found.analysis.similar] == ["a"]  # type: ignore[union-attr]
    assert finder.last_error is not None and "HTTP 500" in finder.last_error


def test_terms_come_from_the_english_translation() -> None:
    zh = Article.from_document(doc("z", ZH_TITLE, ZH_TEXT, days=0, lang="zh",
                                   translation=(gloss(ZH_TITLE), gloss(ZH_TEXT))))  # fmt: skip
    terms = event_terms(title=zh.headline, text=zh.text, symbols=["TSLA"], keywords=[])
    assert terms[0] == "$TSLA" and "tesla" in terms and "electric" in terms


async def test_refresh_command_brings_old_lists_up_to_date(
    store: ArticleStore, settings: Settings
) -> None:
    from newsflow.cli.similar import refresh

    old_list = [{"id": "bg0", "title": "x", "score": 0.5, "shared": ["company"]}]
    docs = []
    for n, (aid, (title, text)) in enumerate([("s1", STADIA), ("g", GENERIC), ("s2", STADIA_2)]):
        d = doc(aid, title, text, days=n)
        d["status"] = "analyzed"
        d["analysis"] = {"status": "ok", "symbols": [], "keywords": [], "similar": old_list}
        docs.append(d)
    for n, topic in enumerate(TOPICS):
        d = doc(f"bg{n}", f"Update on the {topic}", f"News about the {topic}. {FILLER}",
                days=-30 + n)  # fmt: skip
        d["status"] = "analyzed"
        d["analysis"] = {"status": "ok", "similar": []}
        docs.append(d)
    await store.import_documents(docs)
    assert await refresh(settings, store, limit=1000) == 23
    after = Article.from_document(await store.similar._articles.find_one({"_id": "s2"}))
    assert after.analysis is not None
    assert [s.id for s in after.analysis.similar] == ["s1"]
    assert after.analysis.similar[0].evidence and "stadia" in after.analysis.similar[0].evidence
    assert await refresh(settings, store, limit=1000) == 0  # nothing left to do


async def test_postings_of_the_earlier_form_are_read_as_ids(
    store: ArticleStore, settings: Settings
) -> None:
    """Postings stored before 2026-11-28 are ``[id, event time]`` pairs; a term document may
    hold both forms (new ids pushed after old pairs)."""
    finder = SimilarEvents(store.similar, settings)
    await analyze(store, finder, doc("old", *DUVET, days=0))
    await store.similar._terms.update_many({}, {"$set": {"e": [["old", T0]]}})
    article = await analyze(store, finder, doc("new", *DUVET, days=1))
    assert (await store.similar._terms.find_one({"_id": "duvet"}))["e"] == [["old", T0], "new"]
    assert article.analysis is not None and [s.id for s in article.analysis.similar] == ["old"]


async def test_the_analyzers_term_upserts_are_not_journaled_the_refreshs_are(
    settings: Settings,
) -> None:
    """The analyzer's article write follows its term upserts and makes them durable, so they
    go unjournaled (w: 1); ``newsflow similar refresh`` stores the article's entry first, so
    its upserts keep the store's journaled concern. Seen in the commands the driver sends."""
    from motor.motor_asyncio import AsyncIOMotorClient
    from pymongo import monitoring

    from newsflow.adapters.sources import CommandCounter

    class Sent(CommandCounter):
        """The write concern of each update of the term documents."""

        def __init__(self) -> None:
            super().__init__()
            self.concerns: list[dict[str, Any]] = []

        def started(self, event: monitoring.CommandStartedEvent) -> None:
            super().started(event)
            if event.command_name == "update" and event.command["update"].endswith("_terms"):
                self.concerns.append(dict(event.command.get("writeConcern") or {}))

    sent = Sent()
    client: Any = AsyncIOMotorClient(settings.mongo_url, tz_aware=True, event_listeners=[sent])
    local = settings.model_copy(update={"mongo_db": f"{settings.mongo_db}_wc"})
    store = ArticleStore(client, local)
    try:
        finder = SimilarEvents(store.similar, local)
        first = doc("a", *DUVET, days=0)
        await store.import_documents([first])
        found = await finder.search(Article.from_document(first), symbols=[], keywords=[])
        assert found.index_entry is not None
        assert sent.concerns == [{"w": 1}]
        second = doc("b", *DUVET, days=1)
        await store.import_documents([second])
        await finder.find(Article.from_document(second), symbols=[], keywords=[])
        assert sent.concerns == [{"w": 1}, {"w": 1, "j": True}]
    finally:
        await store.drop()
        store.close()
