"""The similar-events evaluation set: its files agree with each other, and precision at k."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from tests.support.corpus_server import Corpus
from tests.support.similar_eval import DATA, Article, Judgement, SimilarEval, load_labels
from tests.support.variants import default_variant_specs, variant_id

CORPUS = Corpus()
HAS_CORPUS = (CORPUS.root / "scrapinghub" / "ground-truth.json").is_file()
needs_corpus = pytest.mark.skipif(not HAS_CORPUS, reason=f"corpus not found at {CORPUS.root}")


def _id_by_title(ev: SimilarEval, start: str) -> str:
    (found,) = [a.id for a in ev.articles.values() if a.title.startswith(start)]
    return found


def _rows(name: str) -> list[dict[str, object]]:
    with (DATA / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


# --- the files ------------------------------------------------------------------------------


def test_every_label_is_defined_and_every_definition_used() -> None:
    ev = load_labels()
    vocabulary = json.loads((DATA / "similar_labels.json").read_text("utf-8"))
    used_events = set().union(*(a.events for a in ev.articles.values()))
    used_topics = set().union(*(a.topics for a in ev.articles.values()))
    assert used_events == set(vocabulary["events"])
    assert used_topics == set(vocabulary["topics"])
    assert {a.area for a in ev.articles.values()} == set(vocabulary["areas"])
    assert all(vocabulary[kind][label].strip() for kind in vocabulary for label in vocabulary[kind])


def test_every_article_has_a_reading() -> None:
    ev = load_labels()
    assert len(ev.articles) == 250
    for article in ev.articles.values():
        assert article.title.strip() and article.summary.strip()
        assert article.topics, f"{article.id} has no topic"
        assert article.set in {"scrapinghub", "zh_cwced"}
    assert Counter(a.set for a in ev.articles.values()) == {"scrapinghub": 181, "zh_cwced": 69}


@needs_corpus
def test_every_corpus_page_is_labeled() -> None:
    ev = load_labels()
    labeled = {(a.set, a.id) for a in ev.articles.values()}
    pages = {(s, i) for s in ("scrapinghub", "zh_cwced") for i in CORPUS.ids(s)}
    assert labeled == pages


def test_pairs_file_lists_exactly_the_related_pairs_the_labels_give() -> None:
    ev = load_labels()
    rows = _rows("similar_pairs.jsonl")
    keys = [frozenset((str(r["a"]), str(r["b"]))) for r in rows]
    assert len(keys) == len(set(keys)), "a pair is listed twice"
    listed = {k for k, r in zip(keys, rows, strict=True) if r["judgement"] == "related"}
    assert listed == ev.related_pairs(level="topic")
    for key, row in zip(keys, rows, strict=True):
        assert str(row["reason"]).strip(), f"pair {sorted(key)} has no reason"
        if row["judgement"] == "related":
            a, b = sorted(key)
            assert row["level"] == ("event" if ev.related(a, b, level="event") else "topic")
        elif row["judgement"] == "not-related":
            a, b = sorted(key)
            assert not ev.related(a, b), f"{a} / {b} is judged not related but shares a label"


@needs_corpus
def test_same_story_pairs_are_the_default_syndicated_copies() -> None:
    ev = load_labels()
    specs = default_variant_specs(CORPUS)
    assert ev.copies == {s.variant_id: s.source_id for s in specs}


def test_readme_counts_match_the_labels() -> None:
    ev = load_labels()
    readme = (DATA / "README.md").read_text("utf-8")

    def count(row: str) -> int:
        match = re.search(rf"^\| {re.escape(row)} \| (\d+) \|", readme, re.MULTILINE)
        assert match, f"README has no row {row!r}"
        return int(match.group(1))

    langs = {a: ev.articles[a].lang for a in ev.articles}
    pairs = ev.related_pairs(level="topic")
    assert count("articles") == len(ev.articles)
    assert count("event labels") == len(set().union(*(a.events for a in ev.articles.values())))
    assert count("topic labels") == len(set().union(*(a.topics for a in ev.articles.values())))
    assert count("related pairs (event or topic)") == len(pairs)
    assert count("related pairs (event only)") == len(ev.related_pairs(level="event"))
    assert count("queries (event or topic)") == len(ev.queries(level="topic"))
    assert count("queries (event only)") == len(ev.queries(level="event"))
    assert count("cross-language related pairs") == sum(
        len({langs[x] for x in p}) == 2 for p in pairs
    )
    assert count("borderline pairs judged not related") == sum(
        j.judgement == "not-related" for j in ev.judgements
    )
    assert count("same-story pairs (syndicated copies)") == len(ev.copies)


# --- related() ------------------------------------------------------------------------------


def test_related_follows_the_labels() -> None:
    ev = load_labels()
    assange = [a.id for a in ev.articles.values() if "Assange" in a.title]
    ascom = [a.id for a in ev.articles.values() if a.title.startswith("Ascom")]
    assert len(assange) == 2 and len(ascom) == 2
    assert ev.related(*assange, level="event") and ev.related(*assange, level="topic")
    # The two Ascom partnerships share a topic, not an event.
    assert ev.related(*ascom, level="topic") and not ev.related(*ascom, level="event")
    # Judged not related: same site, different subjects.
    nascar = _id_by_title(ev, "Classificação NASCAR")
    stock_car = _id_by_title(ev, "Calendário Stock Car 2018")
    assert not ev.related(nascar, stock_car)
    for a, b in ev.related_pairs():
        assert ev.related(a, b) and ev.related(b, a)
    assert not any(ev.related(a, a) for a in ev.articles)
    with pytest.raises(KeyError):
        ev.related(assange[0], "not-an-article")


def test_queries_are_the_articles_with_a_related_article() -> None:
    ev = load_labels()
    for level in ("event", "topic"):
        qs = ev.queries(level=level)
        assert qs and len(qs) == len(set(qs))
        assert all(ev.related_to(q, level=level) for q in qs)
        others = set(ev.articles) - set(qs)
        assert not any(ev.related_to(a, level=level) for a in others)
    assert set(ev.queries(level="event")) <= set(ev.queries(level="topic"))


# --- precision_at_k() -----------------------------------------------------------------------


def _article(aid: str, events: set[str], topics: set[str]) -> Article:
    return Article(
        aid, "scrapinghub", "en", aid, aid, frozenset(events), frozenset(topics), "x", ""
    )


@pytest.fixture
def small() -> SimilarEval:
    """q is related to r1, r2 (event) and t1 (topic only); u1..u6 are unrelated to it."""
    articles = [
        _article("q", {"e"}, {"t"}),
        _article("r1", {"e"}, set()),
        _article("r2", {"e"}, set()),
        _article("t1", set(), {"t"}),
        *(_article(f"u{i}", set(), {f"other{i}"}) for i in range(1, 7)),
    ]
    copies = [
        Judgement("q", variant_id("q", "syn0"), "same-story", None, "copy"),
        Judgement("r1", variant_id("r1", "syn0"), "same-story", None, "copy"),
    ]
    return SimilarEval(articles, copies)


def test_perfect_and_unrelated_rankings(small: SimilarEval) -> None:
    perfect = {"q": ["r1", "r2", "t1", "u1", "u2", "u3"]}
    assert small.precision_per_query(perfect, only=["q"]) == {"q": 1.0}
    assert small.precision_per_query(perfect, only=["q"], level="event") == {"q": 1.0}
    unrelated = {"q": [f"u{i}" for i in range(1, 7)]}
    assert small.precision_per_query(unrelated, only=["q"]) == {"q": 0.0}
    # Raw precision divides by k: three related items in six.
    assert small.precision_per_query(perfect, only=["q"], normalize=False) == {"q": 0.5}
    # Only the first k items are judged; a missing query scores 0.
    late = {"q": ["u1", "u2", "u3", "u4", "u5", "u6", "r1"]}
    assert small.precision_per_query(late, only=["q"]) == {"q": 0.0}
    assert small.precision_per_query({}, only=["q"]) == {"q": 0.0}


def test_copies_count_once_and_never_for_their_own_story(small: SimilarEval) -> None:
    own_copy = {"q": [variant_id("q", "syn0"), "r1", "r2"]}
    assert small.precision_per_query(own_copy, only=["q"]) == {"q": pytest.approx(2 / 3)}
    twice = {"q": ["r1", variant_id("r1", "syn0"), "r2"]}
    assert small.precision_per_query(twice, only=["q"]) == {"q": pytest.approx(2 / 3)}
    copy_first = {"q": [variant_id("r1", "syn0"), "r2", "t1"]}
    assert small.precision_per_query(copy_first, only=["q"]) == {"q": 1.0}


def test_bad_lists_are_refused(small: SimilarEval) -> None:
    with pytest.raises(ValueError, match="itself"):
        small.precision_per_query({"q": ["q", "r1"]}, only=["q"])
    with pytest.raises(ValueError, match="twice"):
        small.precision_per_query({"q": ["r1", "r1"]}, only=["q"])
    with pytest.raises(KeyError):
        small.precision_per_query({"q": ["nobody"]}, only=["q"])
    with pytest.raises(KeyError):
        small.precision_per_query({"q": [variant_id("nobody", "syn0")]}, only=["q"])
    with pytest.raises(ValueError, match="no related"):
        small.precision_per_query({}, only=["u1"])


def test_real_set_perfect_ranking_scores_one_and_unrelated_zero() -> None:
    ev = load_labels()
    order = list(ev.articles)
    for level in ("event", "topic"):
        perfect = {}
        unrelated = {}
        for q in ev.queries(level=level):
            wanted = ev.related_to(q, level=level)
            rest = [a for a in order if a != q and a not in ev.related_to(q, level="topic")]
            perfect[q] = sorted(wanted) + rest
            unrelated[q] = rest[:6]
        assert ev.precision_at_k(perfect, 6, level=level) == 1.0
        assert ev.precision_at_k(unrelated, 6, level=level) == 0.0


def test_readme_defines_every_label() -> None:
    readme = (DATA / "README.md").read_text("utf-8")
    vocabulary = json.loads((DATA / "similar_labels.json").read_text("utf-8"))
    for kind in ("events", "topics", "areas"):
        for label in vocabulary[kind]:
            assert f"| `{label}` |" in readme, f"{kind} label {label} is not in the README"
