"""Alert rules and their deliveries in MongoDB (motor).

Collections (``<c>`` is ``NEWSFLOW_MONGO_COLLECTION``):

- ``<c>_alert_rules``: one document per rule: the user's criteria and webhook, its signing
  secret, and its delivery record (count, last delivery, failures, last failure in words);
- ``<c>_alert_deliveries``: one document per (rule, article), ``_id`` = the idempotency key
  ``sha256("<rule id>:<article id>")``. Its unique ``_id`` is what makes replicas send an
  alert once: a notifier sends only after it claimed the document (inserted it, or took it
  over from a failed try or an expired lease), and records the result after.

The queries, and what serves each:

=============================================  ===============================================
query (method)                                  served by
=============================================  ===============================================
rules that may match an article (candidates)   ``enabled, symbols`` (``$in`` the article's
                                                symbols) and ``enabled, any_symbol`` (rules
                                                without a symbol), at most alert_max_rules
one rule, remove a rule (rule, remove)         ``_id``
the rule list (rules)                          ``created_at``
claim / record a delivery                      ``_id`` (unique: the claim)
give up an article's deliveries (give_up)      ``article_id``
a rule's recent failures (recent_failures)     ``rule_id, updated_at``
=============================================  ===============================================
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorCollection
from pydantic import BaseModel, Field, ValidationError
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from newsflow.domain.validation import describe
from newsflow.settings import Settings
from newsflow.stages.alerts import AlertRule, RuleSpec, new_secret

Document = dict[str, Any]
log = logging.getLogger("newsflow.adapters.alerts")
DeliveryState = Literal["sending", "retrying", "delivered", "failed"]


def now() -> datetime:
    return datetime.now(UTC)


class RuleNotFound(LookupError):
    pass


class AmbiguousRule(RuleNotFound):
    """A prefix of several rules' ids (the message lists them)."""


class Claim(enum.Enum):
    """What claiming a (rule, article) delivery found."""

    #: This notifier holds the lease: it sends now.
    CLAIMED = "claimed"
    #: Sent already (by this or another replica).
    DELIVERED = "delivered"
    #: Given up for good (a permanent refusal, or retries exhausted).
    FAILED = "failed"
    #: Another notifier holds a live lease: it is sending now.
    BUSY = "busy"


class DeliveryRecord(BaseModel):
    """One (rule, article) delivery."""

    key: str = Field(alias="_id")
    rule_id: str
    article_id: str
    state: DeliveryState
    attempts: int = 0
    status: int | None = None
    reason: str | None = None
    owner: str | None = None
    lease_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    delivered_at: datetime | None = None


class AlertStore:
    """Alert rules and deliveries in ``<db>.<collection>_alert_{rules,deliveries}``."""

    def __init__(self, client: AsyncIOMotorClient[Document], settings: Settings) -> None:
        self._client = client
        db = client[settings.mongo_db]
        self._rules: AsyncIOMotorCollection[Document] = db[
            f"{settings.mongo_collection}_alert_rules"
        ]
        self._deliveries: AsyncIOMotorCollection[Document] = db[
            f"{settings.mongo_collection}_alert_deliveries"
        ]

    @classmethod
    def connect(cls, settings: Settings) -> AlertStore:
        client: AsyncIOMotorClient[Document] = AsyncIOMotorClient(
            settings.mongo_url, tz_aware=True, serverSelectionTimeoutMS=10_000
        )
        return cls(client, settings)

    def close(self) -> None:
        self._client.close()

    async def ensure_indexes(self) -> None:
        await self._rules.create_index([("enabled", ASCENDING), ("symbols", ASCENDING)])
        await self._rules.create_index([("enabled", ASCENDING), ("any_symbol", ASCENDING)])
        await self._rules.create_index([("created_at", ASCENDING)])
        await self._deliveries.create_index([("article_id", ASCENDING)])
        await self._deliveries.create_index([("rule_id", ASCENDING), ("updated_at", DESCENDING)])

    # --- rules ----------------------------------------------------------------------------

    async def add(self, spec: RuleSpec) -> AlertRule:
        """Store a new rule with a fresh id and secret; the secret is returned only here."""
        rule = AlertRule(
            **spec.model_dump(), id=secrets.token_hex(6), secret=new_secret(), created_at=now()
        )
        doc = rule.model_dump(exclude={"id"})
        await self._rules.insert_one({"_id": rule.id, **doc, "any_symbol": not rule.symbols})
        return rule

    @staticmethod
    def _rule(doc: Document) -> AlertRule:
        return AlertRule.model_validate({**doc, "id": doc["_id"]})

    async def resolve(self, rule_id: str) -> str:
        """The full id of a rule from its id or a prefix of at least 4 hex digits (like an
        article's); :class:`RuleNotFound` when none or several rules match."""
        wanted = rule_id.strip().lower()
        if await self._rules.find_one({"_id": wanted}, {"_id": 1}) is not None:
            return wanted
        if len(wanted) >= 4 and all(c in "0123456789abcdef" for c in wanted):
            # a range, not a pattern; the rules are few (SecantusDB scans them for it)
            cursor = self._rules.find({"_id": {"$gte": wanted, "$lt": f"{wanted}g"}}, {"_id": 1})
            found = [str(d["_id"]) async for d in cursor.limit(6)]
            if len(found) == 1:
                return found[0]
            if found:
                shown = ", ".join(found[:5])
                raise AmbiguousRule(f"rule id prefix {wanted} matches several rules: {shown}")
        if 0 < len(wanted) < 4 and all(c in "0123456789abcdef" for c in wanted):
            raise RuleNotFound(f"no alert rule with id {wanted!r} (give at least 4 digits)")
        raise RuleNotFound(f"no alert rule with id {rule_id[:40]!r}")

    async def rule(self, rule_id: str) -> AlertRule:
        doc = await self._rules.find_one({"_id": await self.resolve(rule_id)})
        if doc is None:
            raise RuleNotFound(f"no alert rule with id {rule_id[:40]!r}")
        return self._rule(doc)

    async def rules(self, limit: int = 500) -> list[AlertRule]:
        """Every rule, oldest first."""
        cursor = self._rules.find({}).sort("created_at", ASCENDING).limit(limit)
        return [r async for d in cursor if (r := self._readable(d)) is not None]

    @classmethod
    def _readable(cls, doc: Document) -> AlertRule | None:
        """The rule of a stored document, None (and a warning) when it no longer validates
        (edited by hand, or written by another version): it is skipped, never a crash."""
        try:
            return cls._rule(doc)
        except ValidationError as exc:
            log.warning(
                "alert rule %s is not valid and is skipped: %s",
                doc.get("_id"),
                "; ".join(describe(exc.errors())),
            )
            return None

    async def remove(self, rule_id: str) -> str:
        """Delete a rule (by id or prefix) and its delivery records; returns its id.
        :class:`RuleNotFound` if there is none."""
        rule_id = await self.resolve(rule_id)
        res = await self._rules.delete_one({"_id": rule_id})
        if res.deleted_count != 1:
            raise RuleNotFound(f"no alert rule with id {rule_id[:40]!r}")
        await self._deliveries.delete_many({"rule_id": rule_id})
        return rule_id

    async def candidates(self, symbols: Iterable[str], limit: int) -> list[AlertRule]:
        """Enabled rules naming one of ``symbols``, or no symbol at all (at most ``limit``).

        Only the symbol criterion is decided here (through the index); the caller checks the
        rest with :func:`~newsflow.stages.alerts.matches`.
        """
        wanted = sorted({s.upper() for s in symbols})
        query: Document = {"enabled": True, "any_symbol": True}
        if wanted:
            query = {"$or": [{"enabled": True, "symbols": {"$in": wanted}}, query]}
        cursor = self._rules.find(query).sort("_id", ASCENDING).limit(limit)
        return [r async for d in cursor if (r := self._readable(d)) is not None]

    # --- deliveries -----------------------------------------------------------------------

    async def claim(
        self, key: str, *, rule_id: str, article_id: str, owner: str, lease_seconds: float
    ) -> Claim:
        """Take the (rule, article) delivery ``key`` for ``lease_seconds``, if it is to do.

        It is to do when no record exists (the first try), when an earlier try failed in a
        way worth retrying, or when a sender's lease ran out without a result (the sender
        died or was stopped): then the alert may have been sent already, and the receiver
        sees a retry with the same idempotency key.
        """
        ts = now()
        take: Document = {
            "$set": {
                "state": "sending",
                "owner": owner,
                "updated_at": ts,
                "lease_until": ts + timedelta(seconds=lease_seconds),
            },
        }
        # Two plain filters, not one "$or" of them: SecantusDB plans no index for a filter
        # with a logical operator and read every delivery for it (0.5 s at 30,000). A try
        # that failed in a way worth retrying is taken first; then a lapsed lease, or no
        # record at all (the upsert inserts it; a record that matches neither makes the
        # insert fail on its _id). One that turned ``retrying`` between the two is taken
        # on a second round.
        for _ in range(2):
            if await self._deliveries.find_one_and_update({"_id": key, "state": "retrying"}, take):
                return Claim.CLAIMED
            try:
                await self._deliveries.find_one_and_update(
                    {"_id": key, "state": "sending", "lease_until": {"$lt": ts}},
                    {
                        **take,
                        "$setOnInsert": {
                            "rule_id": rule_id,
                            "article_id": article_id,
                            "created_at": ts,
                            "attempts": 0,
                        },
                    },
                    upsert=True,
                )
            except DuplicateKeyError:
                # The record exists and is not ours to take: see what it says.
                doc = await self._deliveries.find_one({"_id": key}, {"state": 1})
                state = (doc or {}).get("state")
                if state == "delivered":
                    return Claim.DELIVERED
                if state == "failed":
                    return Claim.FAILED
                if state == "retrying":
                    continue
                return Claim.BUSY
            return Claim.CLAIMED
        return Claim.BUSY

    async def delivered(self, key: str, *, status: int | None, attempts: int) -> None:
        """Record a sent alert (and count it on its rule, once)."""
        ts = now()
        before = await self._deliveries.find_one_and_update(
            {"_id": key},
            {
                "$set": {
                    "state": "delivered",
                    "status": status,
                    "delivered_at": ts,
                    "updated_at": ts,
                    "lease_until": None,
                    "reason": None,
                },
                "$inc": {"attempts": attempts},
            },
            return_document=ReturnDocument.BEFORE,
        )
        if before is not None and before.get("state") != "delivered":
            await self._rules.update_one(
                {"_id": before["rule_id"]},
                {"$inc": {"deliveries": 1}, "$set": {"last_delivery_at": ts}},
            )

    async def failed(
        self, key: str, *, reason: str, attempts: int, status: int | None, final: bool
    ) -> None:
        """Record a failed try: ``final`` gives up, otherwise a later try may claim it again.

        The rule counts the failure and keeps its reason (in words: never a secret, never the
        receiver's answer body).
        """
        ts = now()
        before = await self._deliveries.find_one_and_update(
            {"_id": key, "state": {"$ne": "delivered"}},
            {
                "$set": {
                    "state": "failed" if final else "retrying",
                    "reason": reason,
                    "status": status,
                    "updated_at": ts,
                    "lease_until": None,
                },
                "$inc": {"attempts": attempts},
            },
            return_document=ReturnDocument.BEFORE,
        )
        if before is not None:
            await self._count_failure(before["rule_id"], before["article_id"], reason, ts)

    async def _count_failure(
        self, rule_id: str, article_id: str, reason: str, ts: datetime
    ) -> None:
        await self._rules.update_one(
            {"_id": rule_id},
            {
                "$inc": {"failures": 1},
                "$set": {"last_failure": {"at": ts, "reason": reason, "article_id": article_id}},
            },
        )

    async def give_up(self, article_id: str, reason: str) -> int:
        """Mark the article's unfinished deliveries failed (its message was dead-lettered).

        A delivery another notifier holds under a live lease is left to it.
        """
        ts = now()
        # The article's unfinished deliveries (through its index; no "$or", see :meth:`claim`):
        # each update takes a retrying one, or a sending one whose lease ran out, as it is now.
        given_up = 0
        async for doc in self._deliveries.find(
            {"article_id": article_id, "state": {"$in": ["retrying", "sending"]}},
            {"rule_id": 1, "reason": 1, "state": 1},
        ):
            words = f"{reason}; last try: {doc.get('reason') or 'none finished'}"
            still: Document = (
                {"_id": doc["_id"], "state": "retrying"}
                if doc["state"] == "retrying"
                else {"_id": doc["_id"], "state": "sending", "lease_until": {"$lt": ts}}
            )
            res = await self._deliveries.update_one(
                still,
                {
                    "$set": {
                        "state": "failed",
                        "reason": words,
                        "updated_at": ts,
                        "lease_until": None,
                    }
                },
            )
            if res.modified_count:
                given_up += 1
                await self._count_failure(doc["rule_id"], article_id, words, ts)
        return given_up

    async def delivery(self, key: str) -> DeliveryRecord | None:
        doc = await self._deliveries.find_one({"_id": key})
        return DeliveryRecord.model_validate(doc) if doc is not None else None

    async def deliveries(
        self, *, rule_id: str | None = None, article_id: str | None = None, limit: int = 100
    ) -> list[DeliveryRecord]:
        """Delivery records of a rule or an article, most recently changed first."""
        query: Document = {}
        if rule_id:
            query["rule_id"] = rule_id
        if article_id:
            query["article_id"] = article_id
        cursor = self._deliveries.find(query).sort("updated_at", DESCENDING).limit(limit)
        return [DeliveryRecord.model_validate(d) async for d in cursor]

    async def recent_failures(self, rule_id: str, limit: int = 5) -> list[DeliveryRecord]:
        """The rule's latest failed or retrying deliveries, with their reasons."""
        cursor = (
            self._deliveries.find({"rule_id": rule_id, "state": {"$in": ["failed", "retrying"]}})
            .sort("updated_at", DESCENDING)
            .limit(limit)
        )
        return [DeliveryRecord.model_validate(d) async for d in cursor]
