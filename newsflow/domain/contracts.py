"""Message contracts between the stages and the shape of each stage's result.

Every message carries ``schema_version``; stages pass article ids and small data, never pages.
The stage results (``FetchResult`` ...) are the sub-documents stored on the article. Which
stream carries which message, and which stage writes which result, is declared in
:mod:`newsflow.domain.pipeline`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from newsflow.domain.usage import LLMUsage, Reuse

SCHEMA_VERSION = 1


#: The largest generation: what MongoDB stores as a 64-bit integer (a larger one could not be
#: compared or recorded, so a message carrying one is invalid).
MAX_GENERATION = 2**63 - 1


class Status(StrEnum):
    """The article's place in the pipeline (``status`` on the document)."""

    QUEUED = "queued"
    FETCHED = "fetched"
    EXTRACTED = "extracted"
    TRANSLATED = "translated"
    ANALYZED = "analyzed"
    FAILED = "failed"


# --- messages ------------------------------------------------------------------------------


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = SCHEMA_VERSION

    def to_fields(self) -> dict[str, str]:
        """The message as stream fields, as a raw ``XADD`` sends them: strings, booleans as
        ``true``/``false``, no nulls. Every entry stays readable with redis-cli, and a dead
        letter keeps its fields intact for `newsflow retry`."""
        fields: dict[str, str] = {}
        for name, value in self.model_dump(mode="json", exclude_none=True).items():
            fields[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return fields


class UrlSubmitted(Message):
    """A URL to process: what `newsflow publish` and a raw ``XADD <urls> * url ...`` send."""

    url: str = Field(min_length=1, max_length=8192)
    #: Re-process an article that exists already.
    refresh: bool = False
    #: Who or what submitted it (free text, for the audit trail; the article keeps the last 20).
    submitted_by: str = Field(default="xadd", max_length=200)
    # Set by the feeder for an item of a source (all optional; a plain XADD sends none):
    #: The source's display name, stored as the article's ``source`` instead of the host.
    source: str | None = Field(default=None, max_length=300)
    source_id: str | None = Field(default=None, max_length=64)
    #: The source's category, used where the analysis finds no clear topic.
    category: str | None = Field(default=None, max_length=100)
    #: The feed's title and publish time of the item, used where the page has none.
    title_hint: str | None = Field(default=None, max_length=1000)
    published_hint: datetime | None = None

    def hints(self) -> dict[str, object] | None:
        """What the source says of the item, as stored on the article (``hints``)."""
        hints = {
            "title": self.title_hint,
            "published": self.published_hint,
            "category": self.category,
            "source_id": self.source_id,
        }
        kept: dict[str, object] = {k: v for k, v in hints.items() if v is not None}
        return kept or None


class StageDone(Message):
    """An article finished a stage; the next stage reads what it needs from MongoDB."""

    article_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: Bumped by every refresh: messages of an older generation are stale and ignored.
    generation: int = Field(default=1, ge=1, le=MAX_GENERATION)
    #: The canonical URL: lets a stage submit the article again if MongoDB lost it.
    url: str | None = Field(default=None, max_length=8192)


class PageFetched(StageDone):
    pass


class TextExtracted(StageDone):
    pass


class ArticleTranslated(StageDone):
    pass


class ArticleAnalyzed(StageDone):
    """An analyzed article, for what comes after the pipeline (the notifier's alerts).

    The analyzer emits it once it stored the analysis; an "important" vote on an analyzed
    article emits it again (``trigger="vote"``), so rules on votes are checked when votes come.
    """

    trigger: Literal["analyzed", "vote"] = "analyzed"


# --- stage results (sub-documents of the article) -------------------------------------------

StageStatus = Literal["ok", "failed"]


class FetchResult(BaseModel):
    status: StageStatus
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    encoding: str | None = None
    #: Size of the decoded body in bytes.
    bytes: int | None = None
    redirects: list[str] = []
    attempts: int = 1
    fetched_at: datetime | None = None
    error: str | None = None


ExtractionStatus = Literal["ok", "teaser", "paywalled", "bot_wall", "not_article", "failed"]


class ExtractionResult(BaseModel):
    """What the extractor made of a page. Only ``ok`` goes on to translation and analysis."""

    status: ExtractionStatus
    title: str | None = None
    text: str | None = None
    author: str | None = None
    published: datetime | None = None
    site_name: str | None = None
    #: BCP-47-ish: ``en``, ``zh``, ``ja``... ; ``script`` tells simplified/traditional Chinese.
    language: str | None = None
    script: str | None = None
    word_count: int = 0
    image: str | None = None
    tags: list[str] = []
    #: Which method produced ``text`` (for the audit trail and the benchmark).
    method: str | None = None
    #: Why the status is what it is (``teaser``: "3 paragraphs, JSON-LD wordCount 1200").
    evidence: list[str] = []
    error: str | None = None


TranslationStatus = Literal["translated", "not_needed", "skipped", "deferred", "failed"]


class TranslationResult(BaseModel):
    status: TranslationStatus
    provider: str | None = None
    model: str | None = None
    source_language: str | None = None
    target_language: str = "en"
    title: str | None = None
    text: str | None = None
    chunks: int = 0
    error: str | None = None
    #: What the LLM calls used (None when no call was needed).
    usage: LLMUsage | None = None
    #: Taken from another article of the same story instead of translated.
    reused: Reuse | None = None


Direction = Literal["bullish", "bearish", "neutral"]


class Impact(BaseModel):
    """The LLM's impact analysis, validated before it is stored (a blank summary is none)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    summary: str = Field(min_length=1, max_length=2000)
    direction: Direction
    symbols: list[str] = Field(default_factory=list, max_length=20)
    confidence: float = Field(ge=0.0, le=1.0)
    rationale: str = Field(default="", max_length=4000)


class ImpactResult(BaseModel):
    status: Literal["ok", "skipped", "deferred", "failed"]
    provider: str | None = None
    model: str | None = None
    impact: Impact | None = None
    reason: str | None = None
    #: What the LLM call used (None when no call was needed).
    usage: LLMUsage | None = None
    #: Taken from another article of the same story instead of asked.
    reused: Reuse | None = None


class SimilarArticle(BaseModel):
    id: str
    title: str | None = None
    published: datetime | None = None
    score: float
    shared: list[str] = []
    #: How it was found: ``lexical`` (shared weighted terms), ``semantic`` (embeddings),
    #: ``both``; None for lists stored by the old keyword scorer.
    method: str | None = None
    #: Cosine similarity of the two articles' embeddings, when compared.
    semantic: float | None = None
    #: Why it is listed, for people: "shared: stadia, google" or "semantic similarity 0.83".
    evidence: str | None = None
    #: Its story (one entry per story; never this article's own story).
    story: str | None = None


class AssetMention(BaseModel):
    """One asset an article is about, as the analyzer found it."""

    symbol: str
    name: str
    kind: Literal["stock", "index", "crypto"]
    market: str = ""
    #: Where it was found: the title, the lead (first paragraph), the rest of the body.
    where: list[Literal["title", "lead", "body"]] = []
    count: int = 0
    #: 3 for the title + 2 for the lead + one per mention (at most 5) + 1 for a ticker form.
    salience: float = 0.0


class AnalysisResult(BaseModel):
    status: Literal["ok", "failed"]
    word_count: int = 0
    #: Asset symbols, most salient first (the reader filters on them).
    symbols: list[str] = []
    #: The same assets with name, kind, market, where found, count and salience.
    assets: list[AssetMention] = []
    keywords: list[str] = []
    category: str | None = None
    similar: list[SimilarArticle] = []
    impact: ImpactResult | None = None
    error: str | None = None
