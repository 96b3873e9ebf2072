"""The stored article, typed: one MongoDB document per canonical URL.

:class:`Article` is what the store returns and what the stages, the reader and the command
line read. The values people see are worked out here once, as properties: the title to show
(:attr:`Article.title`), the original title beside a translation, the text to show, the word
count, the source, the failure in words.

Documents written by older versions, or half-written ones, must still show: a field whose
stored value does not fit its type (a stage result of another shape, ``"translation":
"oops"``) is read as absent (its default, None for a stage result) and kept as it was in
:attr:`Article.unreadable`, so a page shows what can be read and ``newsflow show --json``
still shows the stored value. Nothing is written back.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from newsflow.domain.contracts import (
    AnalysisResult,
    ExtractionResult,
    FetchResult,
    Status,
    TranslationResult,
)
from newsflow.domain.pipeline import stage_of
from newsflow.domain.sites import plausible_site
from newsflow.domain.stories import StoryLink
from newsflow.domain.urls import short_id as short_id_of
from newsflow.domain.urls import source_name


def _utc(value: datetime) -> datetime:
    # pymongo without tz_aware returns naive UTC; the store asks for aware values.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


#: A moment, always time-zone-aware (naive values are UTC, as MongoDB stores them).
Moment = Annotated[datetime, AfterValidator(_utc)]


def headline_of(original: object, translated: object, is_translated: bool) -> str | None:
    """The title to show of a document's titles: the translation's when the article was
    translated, else the original's; None without either. :attr:`Article.headline` and the
    readers of projected documents (similar-event candidates) share this one rule."""
    if is_translated and isinstance(translated, str) and translated:
        return translated
    return original if isinstance(original, str) and original else None


class VoteCounts(BaseModel):
    """The community counters of an article; they move only with ``$inc``."""

    up: int = 0
    down: int = 0
    important: int = 0
    comments: int = 0


class Failure(BaseModel):
    """Why an article stopped: the status it would have reached, and the reason in words."""

    #: The status the failing stage would have set (``fetched`` for the fetcher).
    stage: str | None = None
    reason: str | None = None
    at: Moment | None = None
    #: True when the message waits in the dead-letter stream (`newsflow retry` may revive it).
    dead_letter: bool = False

    @property
    def stage_name(self) -> str | None:
        """The failing stage by the field it writes (``extraction``), as people read it."""
        stage = stage_of(self.stage) if self.stage else None
        return stage.field if stage else self.stage


class SourceHints(BaseModel):
    """What a source's feed said of the item (set at intake for items of the feeder)."""

    model_config = ConfigDict(extra="ignore")

    title: str | None = None
    published: Moment | None = None
    #: The source's category, used where the analysis finds no clear topic.
    category: str | None = None
    source_id: str | None = None


class StoredPage(BaseModel):
    """The fetched page as stored on the article: zlib-compressed HTML of one generation."""

    generation: int
    html_z: bytes
    saved_at: Moment | None = None

    @property
    def html(self) -> str:
        return zlib.decompress(self.html_z).decode("utf-8")


class SimilarIndexEntry(BaseModel):
    """The article's terms as indexed for similar events (stored once, with its analysis)."""

    terms: list[str] = []
    n: int = 0
    at: Moment | None = None


class Article(BaseModel):
    """An article document as stored.

    Extra fields are allowed and kept (``extra="allow"``): a feature that stores more on the
    article (source hints, a story, assets, usage) adds a typed field here, and until then
    its values ride along untouched (``article.model_extra``).
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(alias="_id")
    #: The first ten hex digits of the id (filled in from the id when absent).
    short_id: str = ""
    #: The canonical URL (the id is its sha256).
    url: str = ""
    #: The URL as first submitted (with its tracking parameters).
    submitted_url: str | None = None
    #: Host name of the URL (``www.`` dropped), or the display name of the source (feed)
    #: that submitted it first.
    source: str = ""
    status: Status = Status.QUEUED
    #: Rank of the last stage stored in this generation (see ``pipeline.RANK``).
    progress: int = 0
    #: Bumped by every refresh; messages of an older generation are stale.
    generation: int = 1
    #: The stream entry that carried the current generation's URL.
    intake_entry: str | None = None
    created_at: Moment | None = None
    updated_at: Moment | None = None
    #: What the list sorts by: the publication time when known, else when it was received.
    event_at: Moment | None = None
    #: When each step happened: ``queued_at``, ``fetched_at``..., ``failed_at``.
    times: dict[str, Moment] = {}
    votes: VoteCounts = Field(default_factory=VoteCounts)
    failure: Failure | None = None
    #: Who submitted it, the last 20 submissions.
    submitted_by: list[str] = []
    submissions: int = 0
    fetch: FetchResult | None = None
    extraction: ExtractionResult | None = None
    translation: TranslationResult | None = None
    analysis: AnalysisResult | None = None
    #: What its source's feed said of it (items of a source only).
    hints: SourceHints | None = None
    #: The article's story (near-duplicates): its id, and for a copy the evidence of the merge.
    story: StoryLink | None = None
    #: Its terms as indexed for similar events; None until the analyzer indexed it.
    similar_index: SimilarIndexEntry | None = None
    #: The fetched page, loaded only for the stage that reads it (the extractor's claim);
    #: never part of what is shown or dumped.
    page: StoredPage | None = Field(default=None, exclude=True)

    _unreadable: dict[str, Any] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Article:
        """The article of a stored document, reading what does not fit as absent."""
        try:
            article = cls.model_validate(doc)
        except ValidationError as exc:
            bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]} - {"_id", "id"}
            if not bad:
                raise
            article = cls.model_validate({k: v for k, v in doc.items() if k not in bad})
            article._unreadable = {k: doc[k] for k in bad if k in doc}
        if not article.short_id:
            article.short_id = short_id_of(article.id)
        return article

    @property
    def unreadable(self) -> dict[str, Any]:
        """Stored fields that did not fit their type, as they were stored."""
        return dict(self._unreadable)

    def document(self) -> dict[str, Any]:
        """The document as read (unreadable fields included), for ``newsflow show --json``."""
        return self.model_dump(by_alias=True) | self._unreadable

    # --- what people see ----------------------------------------------------------------------

    @property
    def translated(self) -> bool:
        """True when a translation was stored: the title and text shown are the translation's."""
        return self.translation is not None and self.translation.status == "translated"

    @property
    def headline(self) -> str | None:
        """The translated title when there is one, else the original title; None before
        extraction or for a page without a title."""
        return headline_of(
            self.extraction.title if self.extraction else None,
            self.translation.title if self.translation else None,
            self.translated,
        )

    @property
    def title(self) -> str:
        """The title to show: translated, else original, else the URL."""
        return self.headline or self.url

    @property
    def original_title(self) -> str | None:
        """The original-language title, when the title shown is its translation."""
        if self.translated and self.translation and self.translation.title and self.extraction:
            return self.extraction.title or None
        return None

    @property
    def text(self) -> str | None:
        """The text to show and analyze: the translation when there is one, else the original."""
        if self.translated and self.translation and self.translation.text:
            return self.translation.text
        return self.extraction.text if self.extraction else None

    @property
    def original_text(self) -> str | None:
        """The original-language text, when the text shown is its translation."""
        if self.translated and self.translation and self.translation.text and self.extraction:
            return self.extraction.text
        return None

    @property
    def word_count(self) -> int:
        """The article's length in words, as the extractor counted its original text (Chinese
        and Japanese by characters); 0 before extraction. One rule for every view: the length
        of what the page says, the same whether or not it was translated."""
        return self.extraction.word_count if self.extraction else 0

    @property
    def language(self) -> str | None:
        return self.extraction.language if self.extraction else None

    @property
    def published(self) -> datetime | None:
        return self.extraction.published if self.extraction else None

    @property
    def event_time(self) -> datetime | None:
        """When the story happened: its publication time, else when it was submitted."""
        published = self.published
        return _utc(published) if published is not None else self.created_at

    @property
    def site(self) -> str:
        """The source to show: the source (feed) it came from, else the site's own name, else
        the host name."""
        if self.hints is not None and self.hints.source_id:
            return self.source
        name = self.extraction.site_name if self.extraction else None
        # a section ("U.S."), a headline or a topic in the site-name slot is not the source
        if name and plausible_site(name, self.headline, self.source):
            return name.strip()
        return self.source

    @property
    def host(self) -> str:
        """The page's host name (``www.`` dropped), whatever source submitted it."""
        return source_name(self.url)

    @property
    def fetched_url(self) -> str:
        """Where the page was read from (after redirects)."""
        return (self.fetch.final_url if self.fetch else None) or self.url

    @property
    def symbols(self) -> list[str]:
        return list(self.analysis.symbols) if self.analysis else []

    @property
    def keywords(self) -> list[str]:
        return list(self.analysis.keywords) if self.analysis else []

    @property
    def category(self) -> str | None:
        return self.analysis.category if self.analysis else None

    @property
    def failed(self) -> Failure | None:
        """The failure, when the article is failed (a refreshed article keeps none)."""
        return self.failure if self.status is Status.FAILED and self.failure else None

    @property
    def failure_text(self) -> str | None:
        """The failure in words: ``failed at extraction: page is paywalled (...)``."""
        failure = self.failed
        if failure is None:
            return None
        return f"failed at {failure.stage_name or 'an unknown stage'}: {failure.reason or 'no reason given'}"
