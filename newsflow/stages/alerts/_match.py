"""Whether an analyzed article matches an alert rule (plain logic, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsflow.domain.article import Article
from newsflow.domain.urls import source_name
from newsflow.stages.alerts._rules import AlertRule, RuleSpec


@dataclass(frozen=True)
class Subject:
    """What alerts know of an analyzed article: the values rules match and messages show."""

    article_id: str
    short_id: str
    #: The title to show (the translation's when there is one).
    title: str
    original_title: str | None = None
    #: The canonical URL of the original page.
    url: str = ""
    #: The article's source: the URL's host (``www.`` dropped) or a feed's name; the site's
    #: own name.
    source: str = ""
    site: str = ""
    language: str | None = None
    category: str | None = None
    symbols: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    published: datetime | None = None
    #: The impact analysis, when one was made.
    direction: str | None = None
    confidence: float | None = None
    summary: str | None = None
    impact_symbols: tuple[str, ...] = ()
    votes: dict[str, int] = field(default_factory=dict)

    @property
    def all_symbols(self) -> tuple[str, ...]:
        """The article's symbols and the ones the impact analysis names, each once."""
        seen: dict[str, None] = {}
        for s in (*self.symbols, *self.impact_symbols):
            seen.setdefault(s.upper(), None)
        return tuple(seen)


def subject_of(article: Article) -> Subject:
    """What alerts know of a stored article."""
    analysis = article.analysis
    impact = analysis.impact.impact if analysis and analysis.impact else None
    return Subject(
        article_id=article.id,
        short_id=article.short_id,
        title=article.title,
        original_title=article.original_title,
        url=article.url,
        source=article.source,
        site=article.site,
        language=article.language,
        category=article.category,
        symbols=tuple(article.symbols),
        keywords=tuple(article.keywords),
        published=article.event_time,
        direction=impact.direction if impact else None,
        confidence=impact.confidence if impact else None,
        summary=impact.summary if impact else None,
        impact_symbols=tuple(impact.symbols) if impact else (),
        votes=article.votes.model_dump(),
    )


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _is_cjk(text: str) -> bool:
    return any(
        "\u3040" <= c <= "\u30ff" or "\u3400" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af"
        for c in text
    )


def keyword_found(keyword: str, subject: Subject) -> bool:
    """True when ``keyword`` is one of the article's keywords, or a word or phrase of its
    titles or impact summary (case-insensitive; Chinese, Japanese and Korean by substring,
    since they are written without spaces)."""
    wanted = _fold(keyword.strip())
    if not wanted:
        return False
    if any(_fold(k) == wanted for k in subject.keywords):
        return True
    texts = [t for t in (subject.title, subject.original_title, subject.summary) if t]
    if _is_cjk(wanted):
        return any(wanted in _fold(t) for t in texts)
    # The keyword is user text: escaped, never a pattern of its own.
    pattern = re.compile(r"(?<!\w)" + re.escape(wanted) + r"(?!\w)")
    return any(pattern.search(_fold(t)) for t in texts)


def _source_matches(wanted: str, subject: Subject) -> bool:
    """The page's host or the article's source (a host; an item of a feed is named after the
    feed, and its page's host is what a rule names then)."""
    names = {source_name(subject.url), subject.source.lower()} - {""}
    return any(name == wanted or name.endswith("." + wanted) for name in names)


def _category_matches(wanted: str, category: str | None) -> bool:
    if not category:
        return False
    category = category.lower()
    topic = category.split("_", 1)[1] if "_" in category else category
    return wanted in (category, topic)


def mismatch(rule: RuleSpec, subject: Subject) -> str | None:
    """Why ``subject`` does not match ``rule`` (the first criterion that fails), None if it does."""
    if rule.symbols:
        have = set(subject.all_symbols)
        if not any(s in have for s in rule.symbols):
            return f"no symbol {' or '.join(rule.symbols)}"
    if rule.categories and not any(_category_matches(c, subject.category) for c in rule.categories):
        return f"category is {subject.category or 'unknown'}"
    if rule.languages:
        lang = (subject.language or "").lower()
        base = lang.split("-", 1)[0]
        if not any(w in (lang, base) for w in rule.languages):
            return f"language is {subject.language or 'unknown'}"
    if rule.sources and not any(_source_matches(s, subject) for s in rule.sources):
        return f"source is {subject.source or 'unknown'}"
    if rule.keywords and not any(keyword_found(k, subject) for k in rule.keywords):
        return "none of the keywords"
    if rule.direction is not None and subject.direction != rule.direction:
        return f"direction is {subject.direction or 'not analyzed'}"
    if rule.min_confidence is not None and (
        subject.confidence is None or subject.confidence < rule.min_confidence
    ):
        shown = "not analyzed" if subject.confidence is None else f"{subject.confidence:g}"
        return f"confidence is {shown}"
    if rule.min_important and int(subject.votes.get("important", 0)) < rule.min_important:
        return f"{int(subject.votes.get('important', 0))} important votes"
    return None


def matches(rule: RuleSpec, subject: Subject) -> bool:
    """True when every criterion of ``rule`` holds for ``subject``."""
    return mismatch(rule, subject) is None


def sample_subject(rule: AlertRule) -> Subject:
    """The made-up article a test delivery carries (its id says it is a test)."""
    symbols = tuple(rule.symbols[:3]) or ("BTC",)
    return Subject(
        article_id="0" * 64,
        short_id="0" * 10,
        title=f"Newsflow test alert for {rule.label}",
        url="https://example.com/newsflow-test",
        source="example.com",
        site="Newsflow",
        language="en",
        category="en_test",
        symbols=symbols,
        keywords=("test",),
        published=datetime.now(UTC),
        direction=rule.direction or "neutral",
        confidence=rule.min_confidence if rule.min_confidence is not None else 1.0,
        summary="This is a test delivery from `newsflow alerts test`: no article was analyzed.",
        impact_symbols=symbols,
        votes={"up": 0, "down": 0, "important": 0, "comments": 0},
    )
