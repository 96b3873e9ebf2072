"""Placing articles in stories on SecantusDB: band lookup, merge evidence, members, summaries."""

from __future__ import annotations

import random

from newsflow.adapters.store import ArticleStore
from newsflow.domain.urls import article_id
from newsflow.stages.stories import fingerprint

_VOCABULARY = [f"w{i}" for i in range(3000)]


def paragraphs(seed: int, n: int = 6) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(_VOCABULARY) for _ in range(50)) + "." for _ in range(n)]


async def _article(store: ArticleStore, url: str) -> str:
    intake = await store.accept(
        canonical=url, submitted_url=url, submitted_by="test", refresh=False, entry_id=url
    )
    return intake.article_id


async def test_a_copy_joins_the_story_of_the_earlier_article(store: ArticleStore) -> None:
    index = store.stories
    await index.ensure_indexes()
    text = paragraphs(1)
    original = await _article(store, "https://one.example/a")
    copy = await _article(store, "https://two.example/b")
    other = await _article(store, "https://three.example/c")

    first = await index.place(original, 1, fingerprint("\n".join(text)), source="one.example")
    assert first.first and first.id == original and first.matched is None

    joined = await index.place(
        copy, 1, fingerprint("\n".join([*text[1:], "Updated."])), source="two.example"
    )
    assert (joined.id, joined.first, joined.matched) == (original, False, original)
    assert joined.similarity is not None and 0.6 < joined.similarity < 0.95
    assert joined.containment is not None and joined.containment > 0.9
    assert joined.method is not None and joined.placed_at is not None

    alone = await index.place(
        other, 1, fingerprint("\n".join(paragraphs(2))), source="three.example"
    )
    assert alone.first and alone.id == other

    stored = await store.get(copy)
    assert stored.story is not None
    assert stored.story.id == original and stored.story.matched == original

    summary = await index.summary(original)
    assert summary is not None
    assert (summary.members, summary.sources) == (2, ["one.example", "two.example"])
    members = await index.members(original)
    assert [m.id for m in members] == [original, copy]
    assert members[0].first and members[1].similarity == joined.similarity
    summaries = await index.summaries([original, other, "f" * 64])
    assert set(summaries) == {original, other} and summaries[other].members == 1


async def test_placing_again_is_idempotent_and_a_copy_of_a_copy_joins_the_same_story(
    store: ArticleStore,
) -> None:
    index = store.stories
    await index.ensure_indexes()
    text = paragraphs(3)
    a = await _article(store, "https://a.example/1")
    b = await _article(store, "https://b.example/1")
    c = await _article(store, "https://c.example/1")
    await index.place(a, 1, fingerprint("\n".join(text)), source="a.example")
    await index.place(b, 1, fingerprint("\n".join(text[:-1])), source="b.example")
    # a re-delivery (or a refresh with the same text) places it where it was
    again = await index.place(b, 1, fingerprint("\n".join(text[:-1])), source="b.example")
    assert (again.id, again.matched) == (a, a)
    # c is closest to b (the same trimmed text): it joins b's story, which is a's
    chain = await index.place(c, 1, fingerprint("\n".join(text[:-1])), source="c.example")
    assert (chain.id, chain.matched, chain.similarity) == (a, b, 1.0)
    summary = await index.summary(a)
    assert summary is not None and summary.members == 3


async def test_the_earlier_article_is_never_a_copy_of_a_later_one(store: ArticleStore) -> None:
    index = store.stories
    await index.ensure_indexes()
    text = "\n".join(paragraphs(4))
    a = await _article(store, "https://a.example/2")
    b = await _article(store, "https://b.example/2")
    print_ = fingerprint(text)
    assert print_ is not None
    # both fingerprints stored before either looks (two extractors at the same moment)
    await index.store_print(a, print_, source="a.example")
    await index.store_print(b, print_, source="b.example")
    placed_b = await index.place(b, 1, print_, source="b.example")
    placed_a = await index.place(a, 1, print_, source="a.example")
    assert placed_a.first and placed_a.id == a
    assert (placed_b.first, placed_b.id) == (False, a)


async def test_a_text_too_short_stands_alone_with_the_reason(store: ArticleStore) -> None:
    index = store.stories
    aid = await _article(store, "https://a.example/short")
    link = await index.place(aid, 1, None, source="a.example", note="text too short to compare")
    assert link.first and link.id == aid and link.note == "text too short to compare"
    assert article_id("https://a.example/short") == aid


async def test_a_first_article_leaves_its_fingerprint_storyless_and_a_refresh_moves_it(
    store: ArticleStore,
) -> None:
    """The first of a story writes no story on its fingerprint (read as its own); a copy that
    a refresh makes different leaves the story it had joined, on its fingerprint too."""
    index = store.stories
    await index.ensure_indexes()
    text = paragraphs(5)
    a = await _article(store, "https://a.example/3")
    b = await _article(store, "https://b.example/3")
    c = await _article(store, "https://c.example/3")
    await index.place(a, 1, fingerprint("\n".join(text)), source="a.example")
    assert (await index._prints.find_one({"_id": a}))["story_id"] is None
    await index.place(b, 1, fingerprint("\n".join(text)), source="b.example")
    assert (await index._prints.find_one({"_id": b}))["story_id"] == a
    # b's page changed: placed again, it is a story of its own, and c, a copy of the new b,
    # joins b's story, not a's
    new_text = "\n".join(paragraphs(6))
    moved = await index.place(b, 2, fingerprint(new_text), source="b.example")
    assert moved.first and moved.id == b
    assert (await index._prints.find_one({"_id": b}))["story_id"] == b
    joined = await index.place(c, 1, fingerprint(new_text), source="c.example")
    assert (joined.id, joined.matched) == (b, b)
