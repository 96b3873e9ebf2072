"""Request and response bodies of the reader's JSON API (they make its OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from newsflow.domain.article import Failure, VoteCounts
from newsflow.domain.contracts import (
    AnalysisResult,
    ExtractionResult,
    FetchResult,
    TranslationResult,
)
from newsflow.domain.pipeline import STAGES, Outcome
from newsflow.domain.stories import StoryLink, StoryMember, StorySummary
from newsflow.domain.usage import UsageTotals
from newsflow.domain.votes import VoteKind

StageState = Literal["done", "pending", "failed", "skipped"]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error and not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class PublishRequest(Strict):
    """One URL (``url``) or many (``urls``); ``refresh`` re-processes known articles."""

    url: str | None = Field(default=None, max_length=8192, examples=["https://example.org/news/1"])
    urls: list[str] = Field(default_factory=list, examples=[["https://example.org/news/1"]])
    refresh: bool = False

    @model_validator(mode="after")
    def _some_url(self) -> PublishRequest:
        if self.url is None and not self.urls:
            raise ValueError("give a URL in 'url' or a list of URLs in 'urls'")
        return self

    def all_urls(self) -> list[str]:
        return ([self.url] if self.url is not None else []) + self.urls


class PublishedUrl(BaseModel):
    url: str
    outcome: Outcome
    #: True when this call created the article (it was queued for the first time).
    new: bool
    article_id: str | None = None
    short_id: str | None = None
    canonical_url: str | None = None
    #: Why an invalid URL was refused, or the status of the existing article of a duplicate.
    detail: str | None = None


class PublishResponse(BaseModel):
    results: list[PublishedUrl]
    queued: int
    duplicates: int
    invalid: int


class ArticleSummary(BaseModel):
    id: str
    short_id: str
    url: str
    source: str
    status: str
    #: The title to show: the translated title when there is one, else the original title,
    #: else the URL.
    title: str
    original_title: str | None = None
    language: str | None = None
    published: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: What ``sort=published`` orders by: the publication time when known (and believable),
    #: else when the article was received.
    event_at: datetime | None = None
    symbols: list[str] = []
    category: str | None = None
    votes: VoteCounts
    failure: Failure | None = None
    #: What the ``source`` filter matches: the source's name for an item of a source (feed),
    #: else the host name.
    source_key: str = ""
    #: The page's host name (``www.`` dropped).
    host: str = ""
    #: The impact analysis's direction, when there is one.
    direction: str | None = None
    #: The article's story (its id, and for a copy the article it matched with the evidence).
    story: StoryLink | None = None


class ArticleList(BaseModel):
    items: list[ArticleSummary]
    #: Pass as ``cursor`` to get the next (older) page; null on the last page.
    next_cursor: str | None = None


class ArticleDetail(ArticleSummary):
    submitted_url: str | None = None
    generation: int = 1
    export_category: str | None = None
    times: dict[str, datetime] = {}
    fetch: FetchResult | None = None
    extraction: ExtractionResult | None = None
    translation: TranslationResult | None = None
    analysis: AnalysisResult | None = None


if TYPE_CHECKING:
    StageName = str
else:
    #: The stages by the field each writes (``fetch``, ``extraction``...), in pipeline order.
    StageName = Literal[tuple(s.field for s in STAGES)]


class Stage(BaseModel):
    stage: StageName
    state: StageState
    at: datetime | None = None
    #: The stage's own status (``ok``, ``translated``, ``teaser``...) or why it failed.
    detail: str | None = None


class PipelineStatus(BaseModel):
    id: str
    short_id: str
    status: str
    generation: int
    stages: list[Stage]
    failure: Failure | None = None


class SimilarItem(BaseModel):
    id: str
    short_id: str
    title: str | None = None
    published: datetime | None = None
    score: float
    shared: list[str] = []
    #: Status of the similar article, null when it is no longer stored.
    status: str | None = None
    #: ``lexical``, ``semantic`` or ``both`` (null: a list from the old keyword scorer).
    method: str | None = None
    #: Cosine similarity of the embeddings, when compared.
    semantic: float | None = None
    #: Why it is listed: "shared: stadia, google" and/or "semantic similarity 0.83".
    evidence: str | None = None
    #: Its story (one entry per story).
    story: str | None = None


class SimilarList(BaseModel):
    items: list[SimilarItem]


class VoteRequest(Strict):
    kind: VoteKind


class VoteResult(VoteCounts):
    """The counters after a vote; from a browser with a voter cookie also the kinds of vote
    it now holds (a second vote of a kind takes it back)."""

    mine: list[VoteKind] | None = None


class MyVotes(BaseModel):
    votes: VoteCounts
    #: The kinds of vote this browser holds (empty without a voter cookie).
    mine: list[VoteKind] = []


class CommentRequest(Strict):
    text: str = Field(min_length=1, max_length=20_000)
    author: str | None = Field(default=None, max_length=80)


class CommentOut(BaseModel):
    id: str
    article_id: str
    text: str
    author: str | None = None
    created_at: datetime


class CommentList(BaseModel):
    items: list[CommentOut]


class CommentCreated(BaseModel):
    comment: CommentOut
    votes: VoteCounts


class Pipeline(BaseModel):
    #: Number of articles per status.
    statuses: dict[str, int]
    #: Entries waiting in each stage's input stream, by service.
    backlog: dict[str, int]
    dead_letters: int
    #: Today's LLM usage per purpose (UTC day): calls, cache hits, reuse, deferrals, tokens,
    #: estimated cost (NEWSFLOW_LLM_PRICES) and budget.
    llm_usage: list[UsageTotals] = []


class StoryDetail(BaseModel):
    """A story and its articles (the first one first, then in the order they joined)."""

    story: StorySummary
    members: list[StoryMember]


class Health(BaseModel):
    ok: bool
    mongo: bool
    redis: bool


class ErrorDetail(BaseModel):
    status: int
    message: str
    details: list[str] = []


class ErrorBody(BaseModel):
    error: ErrorDetail
