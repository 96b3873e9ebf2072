"""The pipeline, declared once: its streams, its services and what each stage does.

Everything that needs the topology reads it from here: the worker runtime (which stream a
service consumes, what it publishes, which status and field it writes), the consumer groups
created at start-up, ``newsflow up``, ``newsflow status``, the reader and the tests::

    urls ──fetcher──▶ fetched ──extractor──▶ extracted ──translator──▶ translated ──analyzer──▶ (MongoDB)
                └──────────── any stage: poison messages ──▶ dead                    │
                                                      analyzed ◀─────────────────────┘
                                                         └──notifier──▶ alert webhooks

A :class:`Stream` is a stream name (under ``NEWSFLOW_STREAM_PREFIX``) and the message its
entries carry. A :class:`Service` is a process kind: its name is the consumer group, the
compose service and the module ``services.<name>``; it consumes one stream or none. A
:class:`Stage` is a service that moves an article one step: it sets a status and writes one
field of the article. Later features add entries, not code paths:

- a service that consumes nothing (a feed poller publishing to ``urls``)::

      FEEDER = Service("feeder", consumes=None)

- another consumer of a stage's output, as the notifier reads the analyzer's ``analyzed``
  stream: declare the stream, let the stage emit it, and add the consumer to ``SERVICES``;
  its group is created with the others. (A stream with no group is never trimmed by
  ``trim_acknowledged``: add its consumer with it.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from newsflow.domain.contracts import (
    ArticleAnalyzed,
    ArticleTranslated,
    Message,
    PageFetched,
    StageDone,
    Status,
    TextExtracted,
    UrlSubmitted,
)


@dataclass(frozen=True)
class Stream:
    """A Redis stream of the pipeline and the message each of its entries carries."""

    #: The name after the prefix: ``urls`` is ``<prefix>:urls``.
    name: str
    message: type[Message]


@dataclass(frozen=True)
class Service:
    """A kind of process: ``python -m services.<name>``, the compose service ``<name>``.

    A consuming service reads ``consumes`` in the consumer group ``<name>``.
    """

    name: str
    consumes: Stream | None


@dataclass(frozen=True)
class Stage(Service):
    """A service that moves an article one step on.

    On success it stores its result in the article's ``field``, sets ``status`` and publishes
    ``emits`` (None: the last stage); its failures are recorded against ``status`` too.
    """

    emits: Stream | None
    status: Status
    #: The field of the article document that holds this stage's result.
    field: str
    #: The stage results its work reads (``fetch``, ``extraction``...) and ``page`` when it
    #: reads the fetched page: its claim leaves the other results out, so a stage is not
    #: sent what it has no use for. The article's other fields always come.
    reads: tuple[str, ...] = ()

    @property
    def time_key(self) -> str:
        """The key under ``times`` of the moment the stage stored its result."""
        return f"{self.status.value}_at"


URLS = Stream("urls", UrlSubmitted)
FETCHED = Stream("fetched", PageFetched)
EXTRACTED = Stream("extracted", TextExtracted)
TRANSLATED = Stream("translated", ArticleTranslated)
#: Analyzed articles, for the alerts (and whatever else comes after the pipeline).
ANALYZED = Stream("analyzed", ArticleAnalyzed)

FETCHER = Stage("fetcher", consumes=URLS, emits=FETCHED, status=Status.FETCHED, field="fetch")
EXTRACTOR = Stage(
    "extractor",
    consumes=FETCHED,
    emits=EXTRACTED,
    status=Status.EXTRACTED,
    field="extraction",
    reads=("fetch", "page"),
)
TRANSLATOR = Stage(
    "translator",
    consumes=EXTRACTED,
    emits=TRANSLATED,
    status=Status.TRANSLATED,
    field="translation",
    reads=("extraction",),
)
ANALYZER = Stage(
    "analyzer",
    consumes=TRANSLATED,
    emits=ANALYZED,
    status=Status.ANALYZED,
    field="analysis",
    reads=("extraction", "translation"),
)
#: Sends the alert rules' webhooks for analyzed articles (not a stage: it writes no article).
NOTIFIER = Service("notifier", consumes=ANALYZED)

#: The stages in the order an article goes through them.
STAGES: tuple[Stage, ...] = (FETCHER, EXTRACTOR, TRANSLATOR, ANALYZER)
#: Polls the sources (feeds, sitemaps) and queues their new items on ``urls``; it consumes no
#: stream (``services/feeder``).
FEEDER = Service("feeder", consumes=None)
#: Every worker service (the reader and the command line are not pipeline services).
SERVICES: tuple[Service, ...] = (*STAGES, NOTIFIER, FEEDER)
#: The services that read a stream, each in its own consumer group.
CONSUMERS: tuple[Service, ...] = tuple(s for s in SERVICES if s.consumes is not None)

#: Progress rank of each successful status: a stage writes only where progress <= its rank.
RANK: dict[Status, int] = {Status.QUEUED: 0} | {s.status: i for i, s in enumerate(STAGES, 1)}
#: Statuses an article does not leave on its own (a refresh starts it again).
TERMINAL: frozenset[Status] = frozenset({STAGES[-1].status, Status.FAILED})

#: What submitting a URL did: queued (new), duplicate (known, not queued again), refreshed
#: (known, queued again on request) or invalid (refused, with the reason).
Outcome = Literal["queued", "duplicate", "refreshed", "invalid"]


def service(name: str) -> Service:
    """The declared service called ``name``."""
    for s in SERVICES:
        if s.name == name:
            return s
    raise KeyError(f"no service {name!r}; declared: {', '.join(s.name for s in SERVICES)}")


def stage_of(status: Status | str) -> Stage | None:
    """The stage that sets ``status`` (``extracted`` -> the extractor), None for others."""
    for s in STAGES:
        if s.status == status:
            return s
    return None


def next_message(stage: Stage, done: StageDone) -> StageDone | None:
    """The message ``stage`` publishes for an article it finished, None for the last."""
    if stage.emits is None:
        return None
    message = stage.emits.message
    assert issubclass(message, StageDone), f"{stage.name} emits {message.__name__}"
    return message(article_id=done.article_id, generation=done.generation, url=done.url)


@dataclass(frozen=True)
class Streams:
    """Stream names under one prefix: ``streams[FETCHED]`` is ``<prefix>:fetched``."""

    prefix: str

    def __getitem__(self, stream: Stream) -> str:
        return f"{self.prefix}:{stream.name}"

    @property
    def urls(self) -> str:
        """The pipeline's input: submitted URLs."""
        return self[URLS]

    @property
    def dead(self) -> str:
        """Dead letters of every service."""
        return f"{self.prefix}:dead"

    @property
    def stats(self) -> str:
        """Hash of processed/failed counters per service."""
        return f"{self.prefix}:stats"

    def inputs(self) -> dict[str, str]:
        """Each consuming service's name (= its consumer group) -> the stream it reads."""
        return {s.name: self[s.consumes] for s in CONSUMERS if s.consumes is not None}


# --- what a stage's work comes to -------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The stage succeeded: store ``result`` in its field and go on to the next stage.

    ``note`` names a counter shown by `newsflow status` (``translation_failed``) for a
    success worth counting apart.
    """

    result: BaseModel
    note: str | None = None
    #: The fetched page (the fetcher's), stored on the article in the same write.
    page: str | None = None
    #: Other fields of the article stored in the same write, by name: the extractor's
    #: ``story``, the analyzer's ``similar_index`` (one write per stage, not three).
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """The article stops here: ``reason`` in words, the stage's ``result`` if it has one."""

    reason: str
    result: BaseModel | None = None
    #: The counter bumped (``failed``, or the extraction status such as ``paywalled``).
    counter: str = "failed"


#: What a stage handler returns.
StageOutcome = Done | Failed
