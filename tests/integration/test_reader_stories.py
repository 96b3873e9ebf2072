"""The reader's stories: one row per story, the toggle, the story block and API, LLM usage."""

from __future__ import annotations

import random

import httpx

from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import ExtractionResult, FetchResult
from newsflow.domain.pipeline import EXTRACTOR, FETCHER
from newsflow.domain.usage import LLMUsage
from newsflow.stages.stories import fingerprint

_VOCABULARY = [f"word{i}" for i in range(3000)]


def _text(seed: int) -> str:
    rng = random.Random(seed)
    return "\n".join(" ".join(rng.choice(_VOCABULARY) for _ in range(40)) + "." for _ in range(5))


async def _article(store: ArticleStore, url: str, title: str, text: str) -> str:
    intake = await store.accept(
        canonical=url, submitted_url=url, submitted_by="test", refresh=False, entry_id=url
    )
    aid = intake.article_id
    extraction = ExtractionResult(
        status="ok", title=title, text=text, language="en", word_count=200
    )
    assert await store.save_stage(aid, 1, FETCHER, FetchResult(status="ok"))
    assert await store.save_stage(aid, 1, EXTRACTOR, extraction)
    article = await store.get(aid)
    await store.stories.place(aid, 1, fingerprint(text), source=article.source)
    return aid


async def test_the_list_shows_one_row_per_story_and_every_article_on_request(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    text = _text(1)
    first = await _article(store, "https://wire.example/a", "Wire story", text)
    copy = await _article(store, "https://copy.example/b", "Wire story | Copy", text + "\nUpdated.")
    other = await _article(store, "https://other.example/c", "Other story", _text(2))

    page = (await client.get("/")).text
    assert f'data-id="{first}"' in page and f'data-id="{other}"' in page
    assert f'data-id="{copy}"' not in page  # the copy is in the first article's row
    assert "also reported by 1 source: copy.example" in page
    assert "show every article" in page
    everything = (await client.get("/?all=1")).text
    assert all(f'data-id="{a}"' in everything for a in (first, copy, other))
    rows = (await client.get("/partials/articles?all=1")).text
    assert f'data-id="{copy}"' in rows

    api = (await client.get("/api/articles?stories=true")).json()
    assert {i["id"] for i in api["items"]} == {first, other}
    api_all = (await client.get("/api/articles")).json()
    assert {i["id"] for i in api_all["items"]} == {first, copy, other}
    by_id = {i["id"]: i for i in api_all["items"]}
    assert by_id[copy]["story"]["id"] == first and by_id[copy]["story"]["matched"] == first
    assert by_id[copy]["story"]["similarity"] > 0.5

    # A filtered list is not grouped: the copy's source lists it (its story's first article
    # is another source's), and so do that source's feeds (reviewer: an empty source page).
    mine = (await client.get("/?source=copy.example")).text
    assert f'data-id="{copy}"' in mine and f'data-id="{first}"' not in mine
    assert "a filtered list is not grouped by story" in mine
    feed = (await client.get("/feeds/feed.json?source=copy.example&status=extracted")).json()
    assert [i["title"] for i in feed["items"]] == ["Wire story | Copy"]


async def test_the_story_api_and_the_article_page_show_the_members(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    text = _text(3)
    first = await _article(store, "https://wire.example/x", "Wire <b>story</b>", text)
    copy = await _article(store, "https://copy.example/y", "Copy", text)
    story = (await client.get(f"/api/articles/{copy[:10]}/story")).json()
    assert story["story"]["id"] == first and story["story"]["members"] == 2
    assert story["story"]["sources"] == ["wire.example", "copy.example"]
    assert [m["id"] for m in story["members"]] == [first, copy]
    assert story["members"][1]["similarity"] == 1.0

    page = (await client.get(f"/articles/{copy}")).text
    assert 'id="story"' in page and f'href="/articles/{first}"' in page
    assert "Wire &lt;b&gt;story&lt;/b&gt;" in page  # member titles are escaped
    assert "estimated similarity 1.00" in page
    first_page = (await client.get(f"/articles/{first}")).text
    assert "Also reported by 1 source(s)" in first_page and f'href="/articles/{copy}"' in first_page
    missing = await client.get("/api/articles/ffffffffff/story")
    assert missing.status_code == 404


async def test_the_pipeline_and_the_list_show_the_days_llm_usage(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    await store.ledger.settle(
        "translation", 0,
        LLMUsage(provider="p", model="m", calls=3, cached=2, prompt_tokens=100,
                 completion_tokens=50, cost=0.25),
    )  # fmt: skip
    await store.ledger.count_reused("impact")
    body = (await client.get("/api/pipeline")).json()
    usage = {u["purpose"]: u for u in body["llm_usage"]}
    assert (usage["translation"]["calls"], usage["translation"]["cached"]) == (3, 2)
    assert usage["translation"]["prompt_tokens"] == 100 and usage["translation"]["cost"] == 0.25
    assert usage["impact"]["reused"] == 1
    page = (await client.get("/")).text
    assert 'id="llm-usage"' in page
    assert "translation: 3 calls, 2 from the cache, 0 reused from a story" in page
