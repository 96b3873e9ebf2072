"""Near-duplicate fingerprints and the merge decision (no database)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.domain.stories import StoryLink
from newsflow.stages.stories import (
    BANDS,
    METHOD,
    MIN_SHINGLES,
    NUM_PERM,
    Candidate,
    best_match,
    containment,
    fingerprint,
    shingle_mode,
    shingles,
    similarity,
)

_VOCABULARY = [f"w{i}" for i in range(3000)]
_HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 2500)]


def words(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(_VOCABULARY) for _ in range(n)]


def article(seed: int, paragraphs: int = 6, size: int = 60) -> list[str]:
    return [" ".join(words(seed * 100 + i, size)) + "." for i in range(paragraphs)]


def hanzi(seed: int, paragraphs: int = 6, size: int = 80) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_HAN) for _ in range(size)) + "。" for _ in range(paragraphs)]


def exact_jaccard(a: str, b: str, language: str | None = None) -> float:
    _, left = shingles(a, language)
    _, right = shingles(b, language)
    return len(left & right) / len(left | right)


def test_the_same_text_gives_the_same_fingerprint_in_any_layout() -> None:
    text = "\n".join(article(1))
    relaid = "\n\n".join(p.upper().replace(" ", "  ") for p in article(1))
    a, b = fingerprint(text, "en"), fingerprint(relaid, None)
    assert a is not None and b is not None
    assert a == b  # case, spacing and paragraph breaks do not matter
    assert a.method == METHOD and a.mode == "words"
    assert len(a.signature) == NUM_PERM * 4 and len(a.bands) == BANDS


def test_short_texts_get_no_fingerprint() -> None:
    assert fingerprint("Markets rose today.", "en") is None
    assert fingerprint("", "en") is None
    assert fingerprint(" ".join(words(3, 4 + MIN_SHINGLES - 1)), "en") is not None


def test_a_trimmed_copy_is_similar_and_contained() -> None:
    paragraphs = article(2)
    original = fingerprint("\n".join(paragraphs), "en")
    copy = fingerprint("\n".join([*paragraphs[1:], "This story has been updated."]), "en")
    assert original is not None and copy is not None
    estimate = similarity(original.signature, copy.signature)
    truth = exact_jaccard(
        "\n".join(paragraphs), "\n".join([*paragraphs[1:], "This story has been updated."])
    )
    assert 0.7 < truth < 0.9
    assert abs(estimate - truth) < 0.15
    assert containment(estimate, copy.size, original.size) > 0.9  # the copy is in the original
    assert containment(estimate, original.size, copy.size) < 0.95  # not the other way round


def test_different_articles_are_not_similar() -> None:
    a = fingerprint("\n".join(article(4)), "en")
    b = fingerprint("\n".join(article(5)), "en")
    assert a is not None and b is not None
    assert similarity(a.signature, b.signature) < 0.1
    assert not set(a.bands) & set(b.bands)


def test_chinese_and_japanese_are_shingled_by_characters() -> None:
    assert shingle_mode("任何文字", "zh-Hans") == "chars"
    assert shingle_mode("text", "ja") == "chars"
    assert shingle_mode("한국어 문장입니다", "ko") == "words"
    assert shingle_mode("中国人民银行今天宣布降息。" * 5, None) == "chars"
    assert shingle_mode("Plain English words here", None) == "words"
    mode, found = shingles("中国人民，银行", "zh")
    assert mode == "chars" and found == {"中国人民银", "国人民银行"}  # punctuation dropped


def test_a_chinese_copy_with_other_punctuation_matches() -> None:
    paragraphs = hanzi(7)
    original = fingerprint("\n".join(paragraphs), "zh")
    # full-width punctuation turned half-width, spaces added, last paragraph trimmed
    copy_text = "\n".join(p.replace("。", ". ") for p in paragraphs[:-1])
    copy = fingerprint(copy_text, "zh")
    assert original is not None and copy is not None and copy.mode == "chars"
    assert similarity(original.signature, copy.signature) > 0.7
    other = fingerprint("\n".join(hanzi(8)), "zh")
    assert other is not None and similarity(original.signature, other.signature) < 0.1


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.9))
def test_the_estimate_follows_the_exact_jaccard(seed: int, cut: float) -> None:
    base = words(seed, 400)
    other = base[: int(len(base) * (1 - cut))] + words(seed + 1, int(len(base) * cut))
    a, b = " ".join(base), " ".join(other)
    pa, pb = fingerprint(a, "en"), fingerprint(b, "en")
    assert pa is not None and pb is not None
    # four standard errors of a 128-permutation estimate
    assert abs(similarity(pa.signature, pb.signature) - exact_jaccard(a, b)) <= 0.18


def test_containment_from_jaccard_and_sizes() -> None:
    # B is a subset of A with half its size: J = 0.5, all of B is in A, half of A is in B
    assert containment(0.5, 50, 100) == pytest.approx(1.0)
    assert containment(0.5, 100, 50) == pytest.approx(0.5)
    assert containment(0.0, 10, 10) == 0.0
    assert containment(1.0, 0, 10) == 0.0


def _candidate(aid: str, text: str, minutes: int, story: str | None = None) -> Candidate:
    fp = fingerprint(text, "en")
    assert fp is not None
    return Candidate(
        article_id=aid, signature=fp.signature, size=fp.size,
        seen_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes), story_id=story,
    )  # fmt: skip


def test_best_match_takes_the_most_similar_then_the_earliest() -> None:
    paragraphs = article(9)
    text = "\n".join(paragraphs)
    me = fingerprint(text, "en")
    assert me is not None
    candidates = [
        _candidate("b" * 64, "\n".join(paragraphs[:-2]), 2, story="s" * 64),  # less similar
        _candidate("c" * 64, text, 3, story="s" * 64),  # identical, later
        _candidate("d" * 64, text, 1),  # identical, earliest, its story not decided yet
        _candidate("e" * 64, "\n".join(article(10)), 0),  # unrelated
        _candidate("a" * 64, text, 0),  # the article itself
    ]
    match = best_match(me, candidates, merge_threshold=0.5, exclude="a" * 64)
    assert match is not None
    assert (match.article_id, match.story_id) == ("d" * 64, "d" * 64)
    assert match.similarity == 1.0 and match.containment == 1.0
    assert best_match(me, candidates[3:4], merge_threshold=0.5) is None


def test_a_link_is_reusable_only_for_a_contained_copy() -> None:
    copy = StoryLink(id="s", first=False, matched="m", similarity=0.7, containment=0.95)
    assert copy.reusable(0.9)
    assert not copy.reusable(0.96)
    assert not StoryLink(id="s", first=True).reusable(0.5)
