"""The MongoDB store (motor): every query Newsflow makes, and the indexes that serve them.

No other module touches a collection: they call the methods below, which return
:class:`~newsflow.domain.article.Article` (or small typed results), never documents.

Collections (``<c>`` is ``NEWSFLOW_MONGO_COLLECTION``, ``articles`` by default):

- ``<c>``: one document per canonical URL, ``_id`` = sha256 of the URL;
- ``<c>_pages``: pages fetched by earlier versions (read only); a page is now stored on its
  article (``page``: zlib-compressed, with its generation; never in Redis), in the write
  that stores the fetch result, and loaded only by the stage that reads it;
- ``<c>_comments``: one document per comment;
- ``<c>_search``: each article's search terms and event time (``_id`` = the article's), apart
  from the article because SecantusDB rewrites every index entry of a document on each
  update: with the terms on the article, each stage's write re-indexed hundreds of terms
  (SecantusDB's CPU per article 19 -> 340 ms in ``make bench``);
- stories (near-duplicates) and the LLM ledger have their own collections and queries,
  owned by the store as ``store.stories`` (:mod:`newsflow.adapters.stories`:
  ``<c>_fingerprints``, ``<c>_stories``), ``store.ledger`` (:mod:`newsflow.adapters.ledger`:
  ``<c>_llm_cache``, ``<c>_llm_usage``) and ``store.similar`` (similar events,
  :mod:`newsflow.adapters.similar`: ``<c>_terms``, ``<c>_postings``); their module
  docstrings list their queries.

The queries, and what serves each (:meth:`ArticleStore.ensure_indexes` creates them all):

============================================  ==================================================
query (method)                                 served by
============================================  ==================================================
intake: create or refresh (``accept``)         ``_id``
intake: known already? (``known_status``)      ``_id``
claim: read the article (``article``)          ``_id``
store a result, mark failed (``save_stage``,   ``_id`` (guarded by ``generation``, ``progress``)
``fail``), votes (``vote``)
page of an article (with the fetch result;     ``_id`` (``<c>_pages._id`` for pages of
``load_page``)                                 earlier versions)
id prefix (``resolve``)                        ``short_id`` (a range: from the prefix to the
                                               prefix followed by ``g``; not a regular
                                               expression, which SecantusDB plans no index for)
one or some by id (``get``, ``find``)          ``_id``
list, newest first (``page``, ``latest``)      ``created_at, _id`` descending, read in
                                               windows of receive time (``LIST_WINDOWS``)
                                               until a page is full; filtered by
                                               status: ``status, created_at``; by symbol:
                                               ``analysis.symbols, created_at``; by source:
                                               ``source, created_at``; category and language filter the newest-first
                                               scan (no index of their own)
views bullish / bearish (``page``)             ``analysis.impact.impact.direction, created_at``
view important (``page``)                      ``votes.important, created_at``
view hot (``page``)                            ``status, created_at``: the analyzed articles of
                                               the last ``NEWSFLOW_HOT_WINDOW_HOURS``, newest
                                               first, at most ``NEWSFLOW_HOT_MAX_CANDIDATES``,
                                               only the scored fields; then the page by ``_id``
one row per story (``page`` with ``stories``)  filters the scan above: ``story.first`` is not
                                               false (no index of its own)
candidates of the retired similar-events       ``analysis.symbols``, ``analysis.keywords``
scorer (``similar_candidates``: the            (one ``$in`` query each, newest first, merged;
benchmark's baseline)                          the time bound is applied to what they find);
                                               the keywords index only made by
                                               ``bench/similar.py --old`` (every article
                                               write would pay for it)
articles per status (``status_counts``)        ``status, created_at``: each status but
                                               ``analyzed`` counted there; ``analyzed`` is the
                                               rest of the collection's count (no article read)
stranded articles (``stranded``: the           ``status, updated_at``
reconciler)
comments of an article (``comments``)          ``<c>_comments: article_id, created_at``
a person's votes (``toggle_vote``,             ``<c>_votes: _id`` (article:voter:kind),
``my_votes``)                                  ``article_id, voter``
deferred LLM work (``reopen_deferred``)        ``translation.status``,
                                               ``analysis.impact.status``
list by publication time (``page`` with        ``event_at, _id`` descending (``event_at``: the
``sort="published"``)                          publication time when known, else received)
list by votes / impact (``sort``)              ``votes.up, event_at`` /
                                               ``analysis.impact.impact.confidence, event_at``
search (``search``)                            ``<c>_search: terms, event_at``: one term, in
                                               windows of event time, at most 2,000
                                               candidates each; the filters then on their
                                               articles by ``_id``
articles without search fields                 ``event_at`` (null when missing)
(``backfill_search``)
a story's articles (``store.stories``:         ``story.id``
``members``, ``decide``)
vectors stored since the last sync             ``embedding.at`` (sparse)
(``store.similar``: the vector search)
============================================  ==================================================

The parts (``store.stories``, ``store.similar``) query the articles collection for their
own reads; every index of the articles collection is created here, in one place.

Every stage write is idempotent and guarded: a stage writes only into the article's current
``generation`` (bumped by a refresh) and only while the article has not progressed past the
stage (``progress`` <= the stage's rank), so a stale or repeated message never regresses an
article; nor onto an article that lacks the stage before (``progress`` >= rank - 1: MongoDB
lost a write the stage had read), which is submitted again instead.

Every write uses the write concern of ``NEWSFLOW_MONGO_WRITE_CONCERN`` (:data:`WRITE_CONCERNS`):
journaled by default, because a stage acknowledges its Redis message right after its write,
and a write the server then loses would leave nothing to redo it. One exception: the
analyzer's similar-events term upserts go ``w: 1`` because the journaled write of its analysis
follows them and makes them durable (:meth:`~newsflow.adapters.similar.SimilarIndex.index`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import Binary
from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection, AsyncIOMotorDatabase
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern
from pymongo.errors import DuplicateKeyError, OperationFailure

from newsflow.adapters.ids import id_prefix_filter
from newsflow.adapters.ledger import LLMLedger
from newsflow.adapters.similar import SimilarIndex
from newsflow.adapters.stories import StoryIndex
from newsflow.domain.article import Article, StoredPage, VoteCounts
from newsflow.domain.contracts import Status
from newsflow.domain.pipeline import RANK, STAGES, Stage
from newsflow.domain.ranking import View, age_hours, hot_score
from newsflow.domain.search import article_terms, most_selective, query_terms
from newsflow.domain.urls import article_id, short_id, source_name
from newsflow.domain.usage import Purpose
from newsflow.domain.votes import VOTE_KINDS, Comment, VoteKind, clean_author, clean_comment
from newsflow.settings import Settings, WriteConcernKind

Document = dict[str, Any]

#: What each ``NEWSFLOW_MONGO_WRITE_CONCERN`` asks of the server before it acknowledges.
WRITE_CONCERNS: dict[WriteConcernKind, WriteConcern] = {
    # In the on-disk journal of the server (a standalone, or a replica set's primary).
    "journaled": WriteConcern(w=1, j=True),
    # In the journal of a majority of a replica set's members: survives losing the primary.
    "majority": WriteConcern(w="majority", j=True),
    # The server's default: w:1 without j on a standalone mongod or SecantusDB.
    "fast": WriteConcern(),
}


#: Where a deferred purpose is recorded on the article, and the status it goes back to.
_DEFERRED: dict[Purpose, tuple[str, Status]] = {
    "translation": ("translation.status", Status.EXTRACTED),
    "impact": ("analysis.impact.status", Status.TRANSLATED),
}


def now() -> datetime:
    return datetime.now(UTC)


class ArticleNotFound(LookupError):
    pass


class AmbiguousId(LookupError):
    pass


class BadCursor(ValueError):
    """A pagination cursor that this store did not make."""


@dataclass(frozen=True)
class Intake:
    """What accepting a submitted URL did."""

    article_id: str
    generation: int
    #: True when this message should be processed (a new article, a refresh, a redelivery).
    process: bool
    #: The article as the accept left it, when the write returned it (saves the claim a read).
    article: Article | None = None


@dataclass(frozen=True)
class ArticleFilter:
    """What the article list may be narrowed to (plain equality: user text is no pattern),
    and the view it is seen in (:mod:`newsflow.domain.ranking`): the reader's list page, its
    JSON API and its feeds all list through this."""

    status: str | None = None
    symbol: str | None = None
    category: str | None = None
    language: str | None = None
    source: str | None = None
    #: The impact analysis's direction (``bullish``, ``bearish``, ``neutral``).
    direction: str | None = None
    #: At least this many "important" votes.
    important: int | None = None
    view: View = "latest"
    #: One row per story: its first article (copies that joined an earlier article's story
    #: are left out; articles not placed in a story yet are kept).
    stories: bool = False
    #: The order of the list (views other than ``latest`` keep their own): ``received`` (when
    #: Newsflow got it), ``published`` (publication time when known, else received), ``votes``
    #: (+1 votes), ``impact`` (the impact analysis's confidence; only analyzed articles).
    sort: str = "received"

    def query(self) -> Document:
        """The MongoDB filter (the hot view's time window is added by the store)."""
        query: Document = {}
        status, direction, important = self.status, self.direction, self.important
        if self.view in ("bullish", "bearish"):
            if direction and direction != self.view:
                return {"_id": {"$in": []}}  # bullish and bearish at once: nothing
            direction = self.view
        if self.view == "important":
            important = max(important or 0, 1)
        if self.view in ("bullish", "bearish", "hot"):
            if status and status != Status.ANALYZED.value:
                return {"_id": {"$in": []}}  # only analyzed articles have these views
            status = Status.ANALYZED.value
        if status:
            query["status"] = status
        if self.stories:
            query["story.first"] = {"$ne": False}
        if self.symbol:
            query["analysis.symbols"] = self.symbol.strip().upper()
        if self.category:
            query["analysis.category"] = self.category.strip()
        if self.language:
            query["extraction.language"] = self.language.strip()
        if self.source:
            # a host in any case, or a source's name exactly as stored ("CoinDesk")
            written = self.source.strip()
            host = written.lower().removeprefix("www.")
            forms = list(dict.fromkeys([self.source, written, host]))
            query["source"] = forms[0] if len(forms) == 1 else {"$in": forms}
        if direction:
            query[_DIRECTION] = direction.strip().lower()
        if important:
            query["votes.important"] = {"$gte": important}
        if self.sort == "impact" and self.view == "latest":
            query[_CONFIDENCE] = {"$gte": 0}
        return query


@dataclass(frozen=True)
class ArticlePage:
    """One page of the article list; pass ``next_cursor`` back for the next (older) one."""

    items: list[Article]
    next_cursor: str | None


_CURSOR_ERROR = "cursor is not one this API returned (pass next_cursor as it is)"
#: How deep an offset cursor goes (ranked orders, search): the skipped articles are read, so
#: a forged offset of 2^62 read the whole index (outside review).
MAX_OFFSET = 10_000
#: Times a position cursor may hold: a forged year 1 or 9999 overflowed on its way to UTC.
_CURSOR_YEARS = range(1970, 2200)


def _encode_position(tag: str, when: datetime, aid: str) -> str:
    """An opaque cursor holding a position (a time under ``tag``, an id)."""
    raw = json.dumps({tag: when.isoformat(), "id": aid}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_position(cursor: str, tag: str) -> tuple[datetime, str]:
    """The (time, id) that :func:`_encode_position` put in ``cursor`` under ``tag``;
    :class:`BadCursor` if it is not one this store made for that order."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        when = datetime.fromisoformat(data[tag])
        aid = data["id"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise BadCursor(_CURSOR_ERROR) from None
    if not isinstance(aid, str) or when.tzinfo is None:
        raise BadCursor(_CURSOR_ERROR)
    try:
        if when.astimezone(UTC).year not in _CURSOR_YEARS:
            raise BadCursor(_CURSOR_ERROR)
    except OverflowError:
        raise BadCursor(_CURSOR_ERROR) from None
    return when, aid


def encode_cursor(article: Article) -> str:
    """An opaque cursor after ``article`` in (created_at, _id) descending order."""
    return _encode_position("t", article.created_at or datetime.fromtimestamp(0, UTC), article.id)


def cursor_position(cursor: str) -> tuple[datetime, str]:
    """The (created_at, id) of the last article of the page before ``cursor``;
    :class:`BadCursor` if it is not one this store made."""
    return _decode_position(cursor, "t")


#: What similar-event scoring reads of a candidate (each stage result with its ``status``,
#: which its model requires).
_CANDIDATE_FIELDS = {
    "url": 1,
    "created_at": 1,
    "status": 1,
    "extraction.status": 1,
    "extraction.title": 1,
    "extraction.published": 1,
    "translation.status": 1,
    "translation.title": 1,
    "analysis.status": 1,
    "analysis.symbols": 1,
    "analysis.keywords": 1,
}
_NEWEST_FIRST = [("created_at", DESCENDING), ("_id", DESCENDING)]
#: The windows of the newest-first list (:attr:`ArticleStore.list_windows`).
LIST_WINDOWS = (
    timedelta(hours=1), timedelta(days=1), timedelta(days=7), timedelta(days=30),
    timedelta(days=365),
)  # fmt: skip
#: Every field but the fetched page: what reading an article loads unless it asks for more.
_NO_PAGE = {"page": 0}
#: The fields that make an article large: a stage's claim loads those its work reads.
_BULKY = ("page", *(s.field for s in STAGES))


def _one_more_submission(submitted_by: str) -> Document:
    """The update counting one more submission of a known article, by whom (the last 20)."""
    return {
        "$inc": {"submissions": 1},
        "$push": {"submitted_by": {"$each": [submitted_by], "$slice": -20}},
    }


def _page_document(generation: int, html: str, ts: datetime) -> Document:
    """A fetched page as stored on its article: zlib-compressed, with its generation."""
    return {
        "generation": generation,
        "html_z": Binary(zlib.compress(html.encode("utf-8"), 6)),
        "saved_at": ts,
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _event_before(doc: Document, before: datetime) -> bool:
    """Whether a candidate's event time (``extraction.published``, else ``created_at``) is
    before ``before``, with MongoDB's semantics: a stored value that is no date never is."""
    published = (doc.get("extraction") or {}).get("published")
    if published is None:
        published = doc.get("created_at")
    return isinstance(published, datetime) and _aware(published) < _aware(before)


def _newest_first_key(doc: Document) -> tuple[datetime, str]:
    """``_NEWEST_FIRST`` in Python (reversed): merging the answers of several queries."""
    created = doc.get("created_at")
    return (
        _aware(created) if isinstance(created, datetime) else datetime.fromtimestamp(0, UTC),
        str(doc["_id"]),
    )


#: Publication time when known, else when received (set at intake and by the extraction).
_EVENT_FIRST = [("event_at", DESCENDING), ("_id", DESCENDING)]
_CONFIDENCE = "analysis.impact.impact.confidence"
#: The ranked orders of the list (offset cursors), by ``ArticleFilter.sort``.
_RANKED_SORTS: dict[str, list[tuple[str, int]]] = {
    "votes": [("votes.up", DESCENDING), ("event_at", DESCENDING), ("_id", DESCENDING)],
    "impact": [(_CONFIDENCE, DESCENDING), ("event_at", DESCENDING), ("_id", DESCENDING)],
}
#: The search index: the terms, then newest first (see :mod:`newsflow.domain.search`).
_SEARCH_INDEX = [("terms", ASCENDING), ("event_at", DESCENDING)]
#: Search looks in these windows of event time in turn (days; None: all), newest first, until
#: a page is found: its cost follows the matches of the recent past, not the collection.
SEARCH_WINDOWS: tuple[int | None, ...] = (7, 60, 730, None)
#: At most this many candidates are read per search window.
SEARCH_MAX_CANDIDATES = 2_000
#: A publication time this far past the moment of receipt is not believed (bad metadata).
_FUTURE_SLACK = timedelta(days=1)

_DIRECTION = "analysis.impact.impact.direction"
#: The index of the hot view's window (status, then newest first).
_HOT_INDEX = [("status", ASCENDING), ("created_at", DESCENDING)]
_DIRECTION_INDEX = [(_DIRECTION, ASCENDING), ("created_at", DESCENDING)]
#: A symbol's or a source's articles by time: a window of the list reads only theirs.
_SYMBOL_INDEX = [("analysis.symbols", ASCENDING), ("created_at", DESCENDING)]
_SOURCE_INDEX = [("source", ASCENDING), ("created_at", DESCENDING)]
_IMPORTANT_INDEX = [("votes.important", DESCENDING), ("created_at", DESCENDING)]
#: Indexes of the articles that earlier versions made and no query uses any more: dropped
#: at start, since each costs every write (see the README, "Upgrading").
_SUPERSEDED_INDEXES = (
    "analysis.keywords_1",
    "extraction.published_-1",
    "analysis.symbols_1",
    "source_1",
)


#: What the hot score reads of a candidate.
_HOT_FIELDS = {"votes": 1, "submissions": 1, "created_at": 1, "extraction.published": 1}


def encode_event_cursor(article: Article) -> str:
    """An opaque cursor after ``article`` in (event_at, _id) descending order."""
    when = (
        getattr(article, "event_at", None) or article.event_time or datetime.fromtimestamp(0, UTC)
    )
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return _encode_position("e", when, article.id)


def event_position(cursor: str) -> tuple[datetime, str]:
    """The (event_at, id) of the last article of the page before ``cursor``;
    :class:`BadCursor` if it is not one this store made."""
    return _decode_position(cursor, "e")


def event_time_of(published: datetime | None, received: datetime | None) -> datetime | None:
    """The time the list sorts by: the publication time when it is believable (not more than
    a day after the article was received), else the time it was received."""
    if published is not None and published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    if published is not None and (received is None or published <= received + _FUTURE_SLACK):
        return published
    return received


def search_update(stage_field: str, result: BaseModel) -> Document:
    """The search fields a stage result sets (``$set``) or adds (``$addToSet``)."""
    title, text = getattr(result, "title", None), getattr(result, "text", None)
    if stage_field == "extraction":
        update: Document = {"$set": {"terms": article_terms(title, text)}}
        published = getattr(result, "published", None)
        if isinstance(published, datetime):  # else the time it was received stays
            when = published if published.tzinfo else published.replace(tzinfo=UTC)
            if when <= now() + _FUTURE_SLACK:
                update["$set"]["event_at"] = when
        return update
    if stage_field == "translation" and (title or text):
        return {"$addToSet": {"terms": {"$each": article_terms(title, text)}}}
    return {}


def _with_search_fields(doc: Document) -> Document:
    """A document with its ``event_at`` and ``terms`` (an export of an older version, or a
    test's document, may lack them); documents that do not read as an article stay as they
    are (the backfill tries them again)."""
    if "event_at" in doc and "terms" in doc:
        return doc
    try:
        article = Article.from_document(doc)
    except ValueError:
        return doc
    ex, tr = article.extraction, article.translation
    doc.setdefault("event_at", event_time_of(article.published, article.created_at))
    doc.setdefault(
        "terms",
        article_terms(
            ex.title if ex else None,
            ex.text if ex else None,
            tr.title if tr else None,
            tr.text if tr else None,
        ),
    )
    return doc


def encode_offset(offset: int) -> str:
    """The cursor of a ranked view (hot): the position of the next page."""
    raw = json.dumps({"o": offset}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _next_offset(offset: int) -> str | None:
    """The next page's cursor, None past :data:`MAX_OFFSET` (the list ends there)."""
    return encode_offset(offset) if offset <= MAX_OFFSET else None


def decode_offset(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
    except (binascii.Error, ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise BadCursor(_CURSOR_ERROR) from None
    # bool is an int to Python, not to MongoDB
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise BadCursor(_CURSOR_ERROR)
    return offset


def _hot_rank(doc: Document, at: datetime) -> float:
    votes: dict[str, Any] = v if isinstance(v := doc.get("votes"), dict) else {}
    extraction: dict[str, Any] = e if isinstance(e := doc.get("extraction"), dict) else {}
    published = extraction.get("published")
    created = doc.get("created_at")
    when = published if isinstance(published, datetime) else created
    if isinstance(when, datetime) and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        reports = int(doc.get("submissions") or 1) - 1
        counts = {k: int(v or 0) for k, v in votes.items() if k in VoteCounts.model_fields}
    except (TypeError, ValueError):
        reports, counts = 0, {}
    return hot_score(counts, reports, age_hours(when if isinstance(when, datetime) else None, at))


class ArticleStore:
    """Articles in ``<db>.<collection>``, their pages and their comments."""

    def __init__(self, client: AsyncIOMotorClient[Document], settings: Settings) -> None:
        self._client = client
        self._db: AsyncIOMotorDatabase[Document] = client.get_database(
            settings.mongo_db, write_concern=WRITE_CONCERNS[settings.mongo_write_concern]
        )
        name = settings.mongo_collection
        self._articles: AsyncIOMotorCollection[Document] = self._db[name]
        self._pages: AsyncIOMotorCollection[Document] = self._db[f"{name}_pages"]
        self._comments: AsyncIOMotorCollection[Document] = self._db[f"{name}_comments"]
        #: One document per article with its search terms and event time: kept apart from the
        #: article, whose every update would otherwise rewrite the terms' index entries.
        self._search: AsyncIOMotorCollection[Document] = self._db[f"{name}_search"]
        #: One document per person's vote (``<article>:<voter>:<kind>``): votes that toggle.
        self._voters: AsyncIOMotorCollection[Document] = self._db[f"{name}_votes"]
        #: The newest-first list reads these windows of receive time back from now (or from
        #: the cursor), one after the other, until a page is full, then the rest: SecantusDB
        #: serves a sort with a limit by reading every matching article, a window by reading
        #: its own (``bench/views.py``); a MongoDB server reads the index in order either way.
        self.list_windows: tuple[timedelta, ...] = LIST_WINDOWS
        self._hot_window_hours = settings.hot_window_hours
        self._hot_max_candidates = settings.hot_max_candidates
        #: Fingerprints and stories (near-duplicates), and the LLM answer cache and usage:
        #: their own collections, their queries in their own modules.
        self.stories = StoryIndex(self._db, self._articles, settings)
        self.ledger = LLMLedger(self._db, settings)
        #: Similar events: term frequencies, postings, vectors (:mod:`newsflow.adapters.similar`).
        self.similar = SimilarIndex(self._db, self._articles, name)

    @classmethod
    def connect(cls, settings: Settings) -> ArticleStore:
        client: AsyncIOMotorClient[Document] = AsyncIOMotorClient(
            settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=10_000
        )
        return cls(client, settings)

    def close(self) -> None:
        self._client.close()

    async def ping(self) -> bool:
        """Whether MongoDB answers."""
        return bool((await self._db.command("ping")).get("ok"))

    async def drop(self) -> None:
        """Delete the whole database: every article, page and comment (tests, benchmarks)."""
        await self._client.drop_database(self._db.name)

    async def ensure_indexes(self) -> None:
        """Create the indexes of every query (see the table at the top of this module)."""
        existing = await self._articles.index_information()
        for name in _SUPERSEDED_INDEXES:
            if name in existing:
                # Another worker starting at the same moment may have dropped it first.
                with contextlib.suppress(OperationFailure):
                    await self._articles.drop_index(name)
        await self._articles.create_index([("short_id", ASCENDING)])
        await self._articles.create_index(_HOT_INDEX)  # status, created_at
        await self._articles.create_index(_NEWEST_FIRST)
        await self._articles.create_index(_SYMBOL_INDEX)
        await self._articles.create_index(_SOURCE_INDEX)
        await self._articles.create_index(_DIRECTION_INDEX)
        await self._articles.create_index(_IMPORTANT_INDEX)
        await self._articles.create_index([("status", ASCENDING), ("updated_at", ASCENDING)])
        # the list by publication time, the other orders, and search (issue 17)
        await self._articles.create_index(_EVENT_FIRST)
        await self._articles.create_index([("votes.up", DESCENDING), ("event_at", DESCENDING)])
        await self._articles.create_index([(_CONFIDENCE, DESCENDING), ("event_at", DESCENDING)])
        await self._search.create_index(_SEARCH_INDEX)
        await self._comments.create_index([("article_id", ASCENDING), ("created_at", DESCENDING)])
        await self._voters.create_index([("article_id", ASCENDING), ("voter", ASCENDING)])
        # deferred LLM work, found again when the budget allows. Whole, not partial: on
        # SecantusDB the partial form cost an article's writes as much or more
        # (bench/article_updates.py).
        await self._articles.create_index([("translation.status", ASCENDING)])
        await self._articles.create_index([("analysis.impact.status", ASCENDING)])
        # the parts' reads of the articles: a story's members, the vectors since a sync
        await self._articles.create_index([("story.id", ASCENDING)])
        await self._articles.create_index([("embedding.at", ASCENDING)], sparse=True)
        await self.stories.ensure_indexes()
        await self.ledger.ensure_indexes()
        await self.similar.ensure_indexes()

    # --- intake ---------------------------------------------------------------------------

    async def accept(
        self,
        *,
        canonical: str,
        submitted_url: str,
        submitted_by: str,
        refresh: bool,
        entry_id: str,
        source: str | None = None,
        hints: dict[str, Any] | None = None,
    ) -> Intake:
        """Create or refresh the article for a submitted URL.

        ``entry_id`` is the stream entry that carried the URL: its redelivery after a crash
        is processed again instead of being taken for a duplicate. ``source`` (a source's
        display name) and ``hints`` (what its feed said: title, published, category,
        source_id) are set on a new article only; a known article keeps its own.
        """
        aid = article_id(canonical)
        ts = now()
        created: Document = {
            "short_id": short_id(aid),
            "url": canonical,
            "submitted_url": submitted_url,
            # An item of a source is named after it; its feed's hints ride along.
            "source": source or source_name(canonical),
            "status": Status.QUEUED.value,
            "progress": RANK[Status.QUEUED],
            "generation": 1,
            "intake_entry": entry_id,
            "created_at": ts,
            "event_at": ts,  # the publication time replaces it once known (extraction)
            "times": {"queued_at": ts},
            "votes": VoteCounts().model_dump(),
        }
        if hints:
            created["hints"] = hints
        created |= {"_id": aid, "updated_at": ts, "submissions": 1, "submitted_by": [submitted_by]}
        before: Document | None = None
        while before is None:
            # Created by an insert, whose unique _id decides between copies submitted at once.
            # An upsert's "nothing was there before" does not: on SecantusDB two concurrent
            # upserts both saw nothing in 8 of 30 tries (outside review), and each copy went
            # through every stage.
            try:
                await self._articles.insert_one(created)
            except DuplicateKeyError:
                pass
            else:  # what was inserted is known: no need to read it back
                return Intake(aid, 1, process=True, article=Article.from_document(created))
            before = await self._articles.find_one_and_update(
                {"_id": aid},
                {"$set": {"updated_at": ts}, **_one_more_submission(submitted_by)},
                projection=_NO_PAGE,
                return_document=ReturnDocument.BEFORE,
            )  # None: deleted in between, so inserted again
        if before.get("intake_entry") == entry_id:  # our own earlier delivery: go on
            await self._articles.update_one({"_id": aid}, {"$inc": {"submissions": -1}})
            article = Article.from_document(before)
            return Intake(aid, article.generation, process=True, article=article)
        if not refresh:
            return Intake(aid, int(before.get("generation") or 1), process=False)
        after = await self._articles.find_one_and_update(
            {"_id": aid, "intake_entry": {"$ne": entry_id}},
            {
                "$inc": {"generation": 1},
                "$set": {
                    "status": Status.QUEUED.value,
                    "progress": RANK[Status.QUEUED],
                    "intake_entry": entry_id,
                    "times.queued_at": ts,
                    "failure": None,
                },
            },
            projection=_NO_PAGE,
            return_document=ReturnDocument.AFTER,
        )
        if after is None:  # a concurrent delivery of this same entry refreshed it already
            doc = await self._articles.find_one({"_id": aid}, {"generation": 1})
            return Intake(aid, doc["generation"] if doc else 1, process=True)
        article = Article.from_document(after)
        return Intake(aid, article.generation, process=True, article=article)

    async def resubmitted(self, aid: str, submitted_by: str) -> None:
        """Count one more submission of a known article that is not processed again (a
        report, in the hot view's score), as :meth:`accept` does for a duplicate."""
        await self._articles.update_one({"_id": aid}, _one_more_submission(submitted_by))

    async def known_status(self, aid: str) -> Status | None:
        """The status of the article ``aid``, None when there is no such article."""
        doc = await self._articles.find_one({"_id": aid}, {"status": 1})
        if doc is None:
            return None
        try:
            return Status(str(doc.get("status")))
        except ValueError:
            return Status.QUEUED

    # --- stage results --------------------------------------------------------------------

    async def article(self, aid: str, fields: Iterable[str] | None = None) -> Article | None:
        """The article ``aid`` (full id), None when there is none.

        ``fields``: of the stage results and the page, only these (a stage's ``reads``);
        every other field comes too. None: every field but the page.
        """
        if fields is None:
            projection: Document | None = _NO_PAGE
        else:
            projection = {name: 0 for name in _BULKY if name not in fields} or None
        doc = await self._articles.find_one({"_id": aid}, projection)
        return Article.from_document(doc) if doc is not None else None

    async def save_stage(
        self, aid: str, generation: int, stage: Stage, result: BaseModel, *,
        page: str | None = None, fields: Mapping[str, Any] | None = None,
    ) -> bool:  # fmt: skip
        """Store a successful stage's result; False when the write would regress the article.

        ``page``: the fetched page, stored on the article in the same write (the fetcher).
        ``fields``: other top-level fields set in the same write (the extractor's ``story``,
        the analyzer's ``similar_index``).
        """
        ts = now()
        rank = RANK[stage.status]
        update: Document = {
            stage.field: result.model_dump(),
            "status": stage.status.value,
            "progress": rank,
            f"times.{stage.time_key}": ts,
            "updated_at": ts,
            "failure": None,
        }
        if page is not None:
            update["page"] = _page_document(generation, page, ts)
        for name, value in (fields or {}).items():
            update[name] = value.model_dump() if isinstance(value, BaseModel) else value
        searched = search_update(stage.field, result)  # search terms, publication time
        if "event_at" in searched.get("$set", {}):
            update["event_at"] = searched["$set"]["event_at"]
        res = await self._articles.update_one(
            # At most this stage (never regress a later one), at least the stage before (the
            # stage worked from it: an article without it lost a write, see the module doc).
            {"_id": aid, "generation": generation, "progress": {"$gte": rank - 1, "$lte": rank}},
            {"$set": update},
        )
        if res.matched_count == 1 and searched:
            # The terms in their own collection (see ``_search``); an article without a
            # publication time is found by the time it was received.
            if "event_at" not in searched.get("$set", {}):
                searched["$setOnInsert"] = {"event_at": update.get("event_at") or ts}
            await self._search.update_one({"_id": aid}, searched, upsert=True)
        return res.matched_count == 1

    async def fail(
        self,
        aid: str,
        generation: int | None,
        stage: Stage,
        reason: str,
        *,
        result: BaseModel | None = None,
        dead_letter: bool = False,
    ) -> bool:
        """Mark the article failed at ``stage`` with a human-readable reason.

        The failure is recorded against the status the stage would have set (``fetched``
        for the fetcher). ``dead_letter`` marks a failure whose message waits in the
        dead-letter stream: a `newsflow retry` may bring it back.
        """
        ts = now()
        update: Document = {
            "status": Status.FAILED.value,
            "failure": {
                "stage": stage.status.value,
                "reason": reason,
                "at": ts,
                "dead_letter": dead_letter,
            },
            "times.failed_at": ts,
            "updated_at": ts,
        }
        if result is not None:
            update[stage.field] = result.model_dump()
        query: Document = {"_id": aid, "progress": {"$lt": RANK[stage.status]}}
        if generation is not None:
            query["generation"] = generation
        res = await self._articles.update_one(query, {"$set": update})
        return res.matched_count == 1

    async def stranded(self, status: Status, before: datetime, limit: int) -> list[Article]:
        """Up to ``limit`` articles at ``status`` last updated before ``before``, least
        recently updated first: what the reconciler looks at. Only the fields it needs to
        publish an article's next message are loaded (id, URL, generation, status, progress,
        updated_at)."""
        cursor = self._articles.find(
            {"status": status.value, "updated_at": {"$lt": before}},
            {"url": 1, "generation": 1, "status": 1, "progress": 1, "updated_at": 1},
        ).sort("updated_at", ASCENDING)
        return [Article.from_document(d) async for d in cursor.limit(limit)]

    async def similar_candidates(
        self,
        *,
        article_id: str,
        symbols: list[str],
        keywords: list[str],
        before: datetime | None,
        limit: int,
    ) -> list[Article]:
        """The ``limit`` most recently created other articles sharing a symbol or a keyword,
        whose event time (``extraction.published``, else ``created_at``) is before ``before``
        (None: any time). Only the fields similar-event scoring reads are loaded.

        One query per kind of term, each served by its multikey index (``$in``), newest
        first; the time bound is applied here, reading on until ``limit`` articles pass it,
        and the two answers are merged. SecantusDB plans no index for a filter with a
        logical operator (``$or``, ``$and``, ``$nor``): the single ``$or`` query this
        replaces decoded and matched every article of the collection for each analyzed
        article (three quarters of its CPU in the pipeline benchmark, and growing with the
        collection). Needs only ``$in``, ``$ne``, sort and limit: SecantusDB has no ``$text``.
        """
        if limit <= 0:
            return []
        lookups = [
            self._newest_before({field: {"$in": values}, "_id": {"$ne": article_id}}, before, limit)
            for field, values in (("analysis.symbols", symbols), ("analysis.keywords", keywords))
            if values
        ]
        found = {d["_id"]: d for docs in await asyncio.gather(*lookups) for d in docs}
        newest = sorted(found.values(), key=_newest_first_key, reverse=True)[:limit]
        return [Article.from_document(d) for d in newest]

    async def _newest_before(
        self, query: Document, before: datetime | None, limit: int
    ) -> list[Document]:
        """The ``limit`` newest articles matching ``query`` whose event time is before
        ``before``: as ``{$or: [{extraction.published: {$lt: before}},
        {extraction.published: null, created_at: {$lt: before}}]}`` would select them."""
        found: list[Document] = []
        found_all = self._articles.find(query, _CANDIDATE_FIELDS).sort(_NEWEST_FIRST)
        cursor = found_all.batch_size(limit) if before is not None else found_all.limit(limit)
        try:
            async for doc in cursor:
                if before is None or _event_before(doc, before):
                    found.append(doc)
                    if len(found) >= limit:
                        break
        finally:
            await cursor.close()
        return found

    # --- deferred LLM work ------------------------------------------------------------------

    async def reopen_deferred(
        self, purpose: Purpose, limit: int, *, stuck_after: float
    ) -> list[tuple[str, int, str]]:
        """Send articles whose ``purpose`` was deferred back to the stage that does it.

        Each article goes back one step (``extracted`` for the translation, ``translated``
        for the impact analysis) in a new ``generation``, so any older message of it is
        ignored; the caller publishes the returned (id, generation, url) to that stage. An
        article reopened more than ``stuck_after`` seconds ago and still waiting (its message
        was never published: a crash in between) is returned again.
        """
        field, back = _DEFERRED[purpose]
        ts = now()
        reopened: list[tuple[str, int, str]] = []
        cursor = self._articles.find(
            {field: "deferred", "status": Status.ANALYZED.value}, {"generation": 1, "url": 1}
        ).limit(limit)
        async for doc in cursor:
            after = await self._articles.find_one_and_update(
                {"_id": doc["_id"], "generation": doc["generation"], field: "deferred",
                 "status": Status.ANALYZED.value},
                {"$inc": {"generation": 1},
                 "$set": {"status": back.value, "progress": RANK[back], "updated_at": ts,
                          "resumed": {"purpose": purpose, "at": ts,
                                      "generation": doc["generation"] + 1}}},
                projection={"generation": 1, "url": 1},
                return_document=ReturnDocument.AFTER,
            )  # fmt: skip
            if after is not None:  # else another replica took it
                reopened.append((after["_id"], int(after["generation"]), after["url"]))
        stuck = self._articles.find(
            {"resumed.purpose": purpose, "status": back.value,
             "resumed.at": {"$lt": ts - timedelta(seconds=stuck_after)}},
            {"generation": 1, "url": 1, "resumed": 1},
        ).limit(limit)  # fmt: skip
        async for doc in stuck:
            if doc["resumed"].get("generation") == doc["generation"]:
                reopened.append((doc["_id"], int(doc["generation"]), doc["url"]))
        return reopened

    # --- pages ----------------------------------------------------------------------------

    async def load_page(self, aid: str) -> tuple[int, str] | None:
        """(generation, html) of the article's fetched page, None when there is none."""
        doc = await self._articles.find_one({"_id": aid}, {"page": 1})
        if doc is not None and isinstance(doc.get("page"), dict):
            page = StoredPage.model_validate(doc["page"])
            return page.generation, page.html
        # Earlier versions kept pages in a collection of their own.
        old = await self._pages.find_one({"_id": aid})
        if old is None:
            return None
        return old["generation"], zlib.decompress(bytes(old["html_z"])).decode("utf-8")

    # --- reading --------------------------------------------------------------------------

    async def resolve(self, ident: str) -> str:
        """Full article id from a full id or a prefix of at least 4 hex digits."""
        ident = ident.strip().lower()
        if not ident or any(c not in "0123456789abcdef" for c in ident):
            raise ArticleNotFound(f"{ident!r} is not an article id (hex digits expected)")
        if len(ident) == 64:
            if await self._articles.count_documents({"_id": ident}, limit=1):
                return ident
            raise ArticleNotFound(f"no article with id {ident}")
        if len(ident) < 4:
            raise ArticleNotFound("an id prefix needs at least 4 hex digits")
        query = id_prefix_filter(ident)
        ids = [d["_id"] async for d in self._articles.find(query, {"_id": 1}).limit(5)]
        if not ids:
            raise ArticleNotFound(f"no article with id {ident}")
        if len(ids) > 1:
            shown = ", ".join(short_id(i) for i in ids)
            raise AmbiguousId(f"id prefix {ident} is ambiguous: it matches {shown}")
        return str(ids[0])

    async def get(self, ident: str) -> Article:
        """The article of a full id or an id prefix (:class:`ArticleNotFound`,
        :class:`AmbiguousId`)."""
        if len(ident) == 64 and (found := await self.article(ident.lower())) is not None:
            return found  # a full id: one read, no resolve
        aid = await self.resolve(ident)
        article = await self.article(aid)
        if article is None:
            raise ArticleNotFound(f"no article with id {ident}")
        return article

    async def find(self, ids: Iterable[str]) -> dict[str, Article]:
        """The articles of these full ids that exist, by id."""
        cursor = self._articles.find({"_id": {"$in": list(ids)}}, _NO_PAGE)
        return {str(d["_id"]): Article.from_document(d) async for d in cursor}

    async def statuses(self, ids: Iterable[str]) -> dict[str, str]:
        """The status of each of these full ids that exists (one ``$in`` on ``_id``: its cost
        follows the ids asked, not the collection)."""
        cursor = self._articles.find({"_id": {"$in": list(ids)}}, {"status": 1})
        return {str(d["_id"]): str(d.get("status")) async for d in cursor}

    async def page(
        self, where: ArticleFilter | None = None, *, limit: int = 50, cursor: str | None = None
    ) -> ArticlePage:
        """Articles newest first (created_at, then id), or in the hot view's order; ``cursor``
        from an earlier page continues after it (:class:`BadCursor` if it is not one this
        store made for this view)."""
        where = where or ArticleFilter()
        if where.view == "hot":
            return await self._hot(where, limit=limit, cursor=cursor)
        if where.view == "latest" and where.sort in _RANKED_SORTS:
            return await self._ranked(where, limit=limit, cursor=cursor)
        if where.view == "latest" and where.sort == "published":
            return await self._by_event_time(where, limit=limit, cursor=cursor)
        query = where.query()
        position = cursor_position(cursor) if cursor else None
        docs = await self._windowed(query, "created_at", position, limit + 1)
        items = [Article.from_document(d) for d in docs]
        more = len(items) > limit
        items = items[:limit]
        return ArticlePage(items, encode_cursor(items[-1]) if more and items else None)

    async def _windowed(
        self, query: Document, key: str, position: tuple[datetime, str] | None, limit: int
    ) -> list[Document]:
        """Up to ``limit`` articles matching ``query``, newest ``key`` first (then ``_id``),
        after ``position`` (the last one of the page before): the articles of the same instant
        as the position's, then :attr:`list_windows` of ``key`` back from now (or from the
        position), one after the other until enough are found, then the rest."""
        order = [(key, DESCENDING), ("_id", DESCENDING)]
        windows = self.list_windows

        async def read(bounds: Any, n: int, **more: Any) -> list[Document]:
            # The time first: where no index covers the whole filter, SecantusDB reads the
            # articles of the index of its first field that has one (a hint would make it
            # read every article).
            q = {key: bounds, **more, **query} if bounds else query
            return [d async for d in self._articles.find(q, _NO_PAGE).sort(order).limit(n)]

        docs: list[Document] = []
        if position is not None:
            at, aid = position
            docs += await read(at, limit, _id={"$lt": aid})  # the same instant, after the last
            start, upper = at, {"$lt": at}
        else:
            start, upper = now(), {}
        for span in (*windows, None):
            if len(docs) >= limit:
                break
            bounds: Document = dict(upper)
            if span is not None:
                bounds["$gte"] = start - span
            elif position is None and bounds:  # the rest of a first page: with any article
                bounds = {"$not": {"$gte": bounds["$lt"]}}  # without the time (sorted last)
            docs += await read(bounds, limit - len(docs))
            if span is not None:
                upper = {"$lt": start - span}
        return docs[:limit]

    async def _hot(self, where: ArticleFilter, *, limit: int, cursor: str | None) -> ArticlePage:
        """The hot view: the recent window scored on read (see :mod:`newsflow.domain.ranking`).

        The candidates are the analyzed articles received in the last ``hot_window_hours``,
        newest first, at most ``hot_max_candidates``, read through the ``status, created_at``
        index (the ``created_at`` one when a symbol or a source is asked for too) with only
        the fields the score needs; then the page's articles by id. The cost is bounded by the
        window, whatever the size of the collection.
        """
        offset = decode_offset(cursor) if cursor else 0
        at = now()
        # The window first: where no index covers the whole filter (a symbol, a source),
        # SecantusDB reads the index of the first field that has one; that must be the
        # window's, not the symbol's whole history. (A hint would make it read every article.)
        query = {"created_at": {"$gte": at - timedelta(hours=self._hot_window_hours)}}
        query |= where.query()
        found = self._articles.find(query, _HOT_FIELDS).sort(_NEWEST_FIRST)
        scored = [
            (_hot_rank(d, at), d.get("created_at") or at, str(d["_id"]))
            async for d in found.limit(self._hot_max_candidates)
        ]
        scored.sort(reverse=True)
        ids = [aid for _, _, aid in scored[offset : offset + limit]]
        by_id = await self.find(ids)
        items = [by_id[aid] for aid in ids if aid in by_id]
        more = offset + limit < len(scored)
        return ArticlePage(items, _next_offset(offset + limit) if more else None)

    async def _by_event_time(
        self, where: ArticleFilter, *, limit: int, cursor: str | None
    ) -> ArticlePage:
        """Newest event first: publication time when known, else when received."""
        position = event_position(cursor) if cursor else None
        docs = await self._windowed(where.query(), "event_at", position, limit + 1)
        more = len(docs) > limit
        items = [Article.from_document(d) for d in docs[:limit]]
        return ArticlePage(items, encode_event_cursor(items[-1]) if more and items else None)

    async def _ranked(self, where: ArticleFilter, *, limit: int, cursor: str | None) -> ArticlePage:
        """Most +1 votes first, or the most confident impact analysis first (offset cursor)."""
        offset = decode_offset(cursor) if cursor else 0
        found = self._articles.find(where.query(), _NO_PAGE).sort(_RANKED_SORTS[where.sort])
        docs = [d async for d in found.skip(offset).limit(limit + 1)]
        more = len(docs) > limit
        items = [Article.from_document(d) for d in docs[:limit]]
        return ArticlePage(items, _next_offset(offset + limit) if more else None)

    async def search(
        self,
        text: str,
        where: ArticleFilter | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> ArticlePage:
        """Articles holding every term of ``text`` (titles and texts, original and
        translation: :mod:`newsflow.domain.search`), newest event first.

        One index lookup (``terms, event_at``) for the most selective term, in widening
        windows of event time (:data:`SEARCH_WINDOWS`) until a page is full, each reading at
        most :data:`SEARCH_MAX_CANDIDATES` candidates with only ``terms`` and ``event_at``;
        the other terms and the filters are checked on those; then the page's articles by id.
        ``cursor`` is the position of the next page.
        """
        terms = query_terms(text)
        if not terms:
            return ArticlePage([], None)
        offset = decode_offset(cursor) if cursor else 0
        wanted = set(terms)
        key = most_selective(terms)
        filters = (where or ArticleFilter()).query()
        at = now()
        matched: list[tuple[datetime, str]] = []
        for days in SEARCH_WINDOWS:
            query: Document = {"terms": key}
            if days is not None:
                query["event_at"] = {"$gte": at - timedelta(days=days)}
            # No hint: SecantusDB 0.7 then walks the whole index, ignoring the term's bounds
            # (150 ms at 1,000 articles instead of 2); its planner picks this index itself.
            found = self._search.find(query, {"terms": 1, "event_at": 1})
            matched = [
                (d.get("event_at") or at, str(d["_id"]))
                async for d in found.limit(SEARCH_MAX_CANDIDATES)
                if wanted.issubset(d.get("terms") or ())
            ]
            if filters and matched:  # the list's filters, on the candidates' articles by id
                query = {"_id": {"$in": [aid for _, aid in matched]}, **filters}
                kept = {d["_id"] async for d in self._articles.find(query, {"_id": 1})}
                matched = [m for m in matched if m[1] in kept]
            if len(matched) > offset + limit:
                break
        matched.sort(reverse=True)
        ids = [aid for _, aid in matched[offset : offset + limit]]
        by_id = await self.find(ids)
        items = [by_id[aid] for aid in ids if aid in by_id]
        more = offset + limit < len(matched)
        return ArticlePage(items, _next_offset(offset + limit) if more else None)

    async def backfill_search(self, batch: int = 200) -> int:
        """Give articles stored before search (or imported) their ``event_at`` and ``terms``;
        returns how many were updated (0 when none is left). Served by the ``event_at`` index
        (a missing field is indexed as null)."""
        cursor = self._articles.find({"event_at": None}, {"page": 0}).limit(batch)
        done = 0
        async for doc in cursor:
            try:
                article = Article.from_document(doc)
            except ValueError:  # not readable as an article: never looked at again
                await self._articles.update_one(
                    {"_id": doc["_id"]}, {"$set": {"event_at": doc.get("created_at") or now()}}
                )
                done += 1
                continue
            ex, tr = article.extraction, article.translation
            terms = article_terms(
                ex.title if ex else None,
                ex.text if ex else None,
                tr.title if tr else None,
                tr.text if tr else None,
            )
            when = event_time_of(article.published, article.created_at) or now()
            await self._articles.update_one({"_id": article.id}, {"$set": {"event_at": when}})
            await self._search.update_one(
                {"_id": article.id}, {"$set": {"event_at": when, "terms": terms}}, upsert=True
            )
            done += 1
        return done

    async def latest(self, limit: int = 20, status: str | None = None) -> list[Article]:
        """The newest ``limit`` articles, of one status if given."""
        return (await self.page(ArticleFilter(status=status), limit=limit)).items

    async def status_counts(self) -> dict[str, int]:
        """How many articles have each status (statuses with none left out).

        No command reads every article: each status but ``analyzed`` (few articles at a
        time: those in the pipeline, and the failed) is counted through the ``status``
        index, and ``analyzed``, the bulk of a collection, is what remains of the
        collection's count (``estimated_document_count``: metadata on MongoDB, a walk over
        the stored records without decoding them on SecantusDB). A ``$group`` by status
        made SecantusDB decode every article into memory at once, which the metrics gauge
        asked for every minute. Counts taken while articles move between statuses may be
        off by those articles; a document without a known status counts as ``analyzed``.
        """
        counts: dict[str, int] = {}
        for status in set(Status) - {Status.ANALYZED}:
            if n := await self._articles.count_documents({"status": status.value}):
                counts[status.value] = n
        total = await self._articles.estimated_document_count()
        if analyzed := max(0, total - sum(counts.values())):
            counts[Status.ANALYZED.value] = analyzed
        return counts

    # --- votes and comments ---------------------------------------------------------------

    async def vote(self, aid: str, kind: VoteKind) -> VoteCounts:
        """Count one vote of ``kind`` on the article (``$inc``: concurrent votes never lose
        one another); returns its counters after the vote."""
        if kind not in VOTE_KINDS:
            raise ValueError(f"unknown vote {kind!r}; expected one of {', '.join(VOTE_KINDS)}")
        return await self._count(aid, kind)

    async def toggle_vote(
        self, aid: str, voter: str, kind: VoteKind
    ) -> tuple[VoteCounts, list[str]]:
        """A person's vote: counted once (its own document, ``_id`` unique), and taken back
        when cast again. Returns the counters and the kinds this voter now holds."""
        if kind not in VOTE_KINDS:
            raise ValueError(f"unknown vote {kind!r}; expected one of {', '.join(VOTE_KINDS)}")
        if not await self._articles.count_documents({"_id": aid}, limit=1):
            raise ArticleNotFound(f"no article with id {aid}")
        key = f"{aid}:{voter}:{kind}"
        try:
            await self._voters.insert_one(
                {"_id": key, "article_id": aid, "voter": voter, "kind": kind, "at": now()}
            )
            counts = await self._count(aid, kind)
        except DuplicateKeyError:
            removed = await self._voters.delete_one({"_id": key})
            counts = await self._count(aid, kind, -1 if removed.deleted_count else 0)
        return counts, await self.my_votes(aid, voter)

    async def my_votes(self, aid: str, voter: str) -> list[str]:
        """The kinds of vote ``voter`` holds on the article."""
        found = self._voters.find({"article_id": aid, "voter": voter}, {"kind": 1})
        return sorted({str(d["kind"]) async for d in found})

    async def _count(self, aid: str, counter: str, by: int = 1) -> VoteCounts:
        doc = await self._articles.find_one_and_update(
            {"_id": aid},
            {"$inc": {f"votes.{counter}": by}},
            projection={"votes": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise ArticleNotFound(f"no article with id {aid}")
        return VoteCounts.model_validate(doc.get("votes") or {})

    async def add_comment(
        self, aid: str, text: str, *, author: str | None = None, max_chars: int = 2_000
    ) -> tuple[Comment, VoteCounts]:
        """Store a comment (checked by :func:`~newsflow.domain.votes.clean_comment`, which
        raises :class:`~newsflow.domain.votes.InvalidComment`) and count it on the article."""
        text = clean_comment(text, max_chars)
        if not await self._articles.count_documents({"_id": aid}, limit=1):
            raise ArticleNotFound(f"no article with id {aid}")
        comment = Comment(uuid.uuid4().hex, aid, text, clean_author(author), now())
        await self._comments.insert_one(
            {
                "_id": comment.id,
                "article_id": aid,
                "text": comment.text,
                "author": comment.author,
                "created_at": comment.created_at,
            }
        )
        return comment, await self._count(aid, "comments")

    async def comments(self, aid: str, limit: int = 50) -> list[Comment]:
        """The article's comments, newest first."""
        cursor = self._comments.find({"article_id": aid}).sort("created_at", DESCENDING)
        return [
            Comment(d["_id"], d["article_id"], d["text"], d.get("author"), d["created_at"])
            async for d in cursor.limit(limit)
        ]

    # --- restoring ------------------------------------------------------------------------

    async def import_documents(self, docs: Iterable[Mapping[str, Any]]) -> int:
        """Insert article documents as they are (a restored export; in tests, documents in
        the shapes older versions wrote). The pipeline never calls this."""
        batch = [_with_search_fields(dict(d)) for d in docs]
        if batch:
            searched = [
                {"_id": d["_id"], "terms": d.pop("terms"), "event_at": d["event_at"]}
                for d in batch
                if "terms" in d and "event_at" in d
            ]
            await self._articles.insert_many(batch)
            if searched:
                await self._search.insert_many(searched)
        return len(batch)
