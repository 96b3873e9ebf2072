"""The notifier's work against the real store and local receivers, and its worker in-process.

Each (rule, article) alert is claimed in MongoDB, signed, sent, recorded; concurrent
notifiers send it once; retryable failures come back through the stream, then give up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from redis.asyncio import Redis

from newsflow import metrics
from newsflow.adapters.alerts import AlertStore
from newsflow.adapters.store import ArticleStore
from newsflow.adapters.webhooks import WebhookSender
from newsflow.domain.contracts import ArticleAnalyzed
from newsflow.domain.pipeline import ANALYZED, NOTIFIER, Streams
from newsflow.runtime.delivery import entry_fields
from newsflow.runtime.worker import ServiceContext, build_worker
from newsflow.settings import Settings
from newsflow.stages.alerts import AlertRule, RuleSpec, idempotency_key
from services.notifier.handlers import Alerting, AlertsPending, give_up, notify
from services.notifier.main import spec
from services.reader.main import create_app
from tests.support.apps import running, wait_for
from tests.support.articles import analyzed
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.integration

TELEGRAM = "/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"


@pytest.fixture
def hooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def notifier_settings(settings: Settings, hooks: WebhookServer) -> Settings:
    port = int(hooks.base.rsplit(":", 1)[1])
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [80, 443, port],
            "alert_timeout": 0.5,
            "alert_retries": 1,
            "alert_backoff": 0.05,
            "alert_backoff_max": 0.2,
            "public_url": "https://news.example.org",
        }
    )


@pytest.fixture
async def alerts(notifier_settings: Settings) -> AsyncIterator[AlertStore]:
    store = AlertStore.connect(notifier_settings)
    await store.ensure_indexes()
    yield store
    store.close()


@pytest.fixture
async def contexts(
    notifier_settings: Settings, redis: Redis, store: ArticleStore, alerts: AlertStore
) -> AsyncIterator[list[ServiceContext[Alerting]]]:
    """Two notifier replicas' contexts (their own sender and name, one database)."""
    made = [
        ServiceContext(
            NOTIFIER,
            notifier_settings,
            Streams(notifier_settings.stream_prefix),
            redis,
            store,
            Alerting(alerts, WebhookSender(notifier_settings), f"replica-{i}"),
        )
        for i in range(2)
    ]
    yield made
    for ctx in made:
        await ctx.resources.sender.aclose()


async def add(alerts: AlertStore, hooks: WebhookServer, path: str, **fields: object) -> AlertRule:
    rule = await alerts.add(RuleSpec.model_validate({"url": hooks.url(path), **fields}))
    hooks.secrets[path] = rule.secret
    return rule


BTC = "https://coins.example/btc-etf-record"


def notifications(channel: str, outcome: str) -> float:
    """``newsflow_notifications_total`` of this process so far."""
    return (
        metrics.registry.get_sample_value(
            "newsflow_notifications_total", {"channel": channel, "outcome": outcome}
        )
        or 0.0
    )


async def test_matching_rules_get_one_signed_alert_each(
    contexts: list[ServiceContext[Alerting]],
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
) -> None:
    doc = analyzed(
        BTC,
        title="Bitcoin ETF inflows hit a record",
        symbols=["BTC"],
        direction="bullish",
        confidence=0.8,
    )
    await store.import_documents([doc])
    wanted = await add(
        alerts, hooks, "/hooks/btc", symbols=["BTC"], direction="bullish", min_confidence=0.6
    )
    telegram = await alerts.add(
        RuleSpec(url=hooks.url(TELEGRAM), symbols=["BTC"], format="telegram", chat_id="-100123")
    )
    await add(alerts, hooks, "/hooks/eth", symbols=["ETH"])
    await add(alerts, hooks, "/hooks/bear", direction="bearish")
    await add(alerts, hooks, "/hooks/sure", symbols=["BTC"], min_confidence=0.9)
    message = ArticleAnalyzed(article_id=doc["_id"], url=doc["url"])
    sent = notifications("json", "sent"), notifications("telegram", "sent")
    await notify(contexts[0], message)
    assert (notifications("json", "sent"), notifications("telegram", "sent")) == (
        sent[0] + 1,
        sent[1] + 1,
    )  # counted in the metrics, by format
    [got] = hooks.received("/hooks/btc")
    assert got.problem is None and got.status == 200  # verified with the documented recipe
    assert got.key == idempotency_key(wanted.id, doc["_id"])
    body = got.json()
    assert body["article"]["page_url"] == f"https://news.example.org/articles/{doc['_id']}"
    assert body["article"]["impact"]["direction"] == "bullish"
    [tg] = hooks.received(TELEGRAM)
    assert tg.problem is None and tg.json()["chat_id"] == -100123
    for path in ("/hooks/eth", "/hooks/bear", "/hooks/sure"):
        assert hooks.received(path) == []
    # a redelivery, and the other replica, send nothing more
    await notify(contexts[0], message)
    await notify(contexts[1], message)
    assert len(hooks.received("/hooks/btc")) == 1 and len(hooks.received(TELEGRAM)) == 1
    stored = await alerts.rule(wanted.id)
    assert stored.deliveries == 1 and stored.failures == 0
    assert (await alerts.rule(telegram.id)).deliveries == 1


async def test_two_replicas_at_once_send_each_alert_once(
    notifier_settings: Settings,
    redis: Redis,
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
) -> None:
    # Generous timeouts: on a loaded machine a timed-out request could have reached the
    # receiver, and its retry would be a second request (the documented at-least-once case).
    roomy = notifier_settings.model_copy(update={"alert_timeout": 10.0, "handler_timeout": 20.0})
    contexts = [
        ServiceContext(
            NOTIFIER,
            roomy,
            Streams(roomy.stream_prefix),
            redis,
            store,
            Alerting(alerts, WebhookSender(roomy), f"replica-{i}"),
        )
        for i in range(2)
    ]
    docs = [analyzed(f"https://coins.example/{i}", symbols=["BTC"]) for i in range(6)]
    await store.import_documents(docs)
    rules = [await add(alerts, hooks, f"/hooks/r{i}", symbols=["BTC"]) for i in range(3)]
    for i in range(3):  # slow receivers: each claim is held while the other replica tries
        hooks.misbehave(f"/hooks/r{i}", *["slow:0.3"] * 6)
    try:
        outcomes = await asyncio.gather(
            *(notify(ctx, ArticleAnalyzed(article_id=d["_id"])) for d in docs for ctx in contexts),
            return_exceptions=True,
        )
        # A replica that found the other one sending gives the message back to be retried.
        assert all(o is None or isinstance(o, AlertsPending) for o in outcomes), outcomes
        assert any(isinstance(o, AlertsPending) for o in outcomes)
        # the given-back messages, retried, find every alert delivered and send nothing more
        for d in docs:
            await notify(contexts[1], ArticleAnalyzed(article_id=d["_id"]))
    finally:
        for ctx in contexts:
            await ctx.resources.sender.aclose()
    for i, rule in enumerate(rules):
        got = hooks.received(f"/hooks/r{i}")
        assert sorted(r.key for r in got) == sorted(
            idempotency_key(rule.id, d["_id"]) for d in docs
        )
        assert all(r.problem is None and r.status == 200 for r in got)
    assert len(hooks.received()) == 3 * len(docs)


async def test_a_receiver_that_fails_is_retried_later_then_given_up_with_the_reason(
    contexts: list[ServiceContext[Alerting]],
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
) -> None:
    doc = analyzed(BTC, symbols=["BTC"])
    await store.import_documents([doc])
    rule = await add(alerts, hooks, "/hooks/down", symbols=["BTC"])
    message = ArticleAnalyzed(article_id=doc["_id"])
    hooks.misbehave("/hooks/down", "503", "503")
    retries = notifications("json", "retry")
    with pytest.raises(AlertsPending, match="503 Service Unavailable"):
        await notify(contexts[0], message)
    assert notifications("json", "retry") == retries + 1
    host = hooks.base.split("//")[1]
    stored = await alerts.rule(rule.id)
    assert stored.failures == 1 and stored.last_failure is not None
    assert (
        stored.last_failure.reason == f"{host} answered HTTP 503 Service Unavailable (2 attempts)"
    )
    record = await alerts.delivery(idempotency_key(rule.id, doc["_id"]))
    assert record is not None and record.state == "retrying"
    await notify(contexts[1], message)  # the receiver is back: the retry delivers
    assert [r.status for r in hooks.received("/hooks/down")] == [503, 503, 200]
    assert (await alerts.rule(rule.id)).deliveries == 1

    other = analyzed("https://coins.example/other", symbols=["BTC"])
    await store.import_documents([other])
    hooks.misbehave("/hooks/down", "500", "500")
    with pytest.raises(AlertsPending):
        await notify(contexts[0], ArticleAnalyzed(article_id=other["_id"]))
    await give_up(contexts[0], other["_id"], 1, "gave up after 3 deliveries")
    record = await alerts.delivery(idempotency_key(rule.id, other["_id"]))
    assert record is not None and record.state == "failed"
    assert record.reason == (
        f"gave up after 3 deliveries; last try: {host} answered HTTP 500 "
        "Internal Server Error (2 attempts)"
    )


async def test_a_permanent_refusal_is_recorded_and_not_retried(
    contexts: list[ServiceContext[Alerting]],
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
) -> None:
    doc = analyzed(BTC, symbols=["BTC"])
    await store.import_documents([doc])
    rule = await add(alerts, hooks, "/hooks/gone", symbols=["BTC"])
    hooks.misbehave("/hooks/gone", "404")
    failed = notifications("json", "failed")
    await notify(contexts[0], ArticleAnalyzed(article_id=doc["_id"]))  # no retry to wait for
    assert notifications("json", "failed") == failed + 1
    await notify(contexts[1], ArticleAnalyzed(article_id=doc["_id"]))
    assert len(hooks.received("/hooks/gone")) == 1
    stored = await alerts.rule(rule.id)
    assert stored.failures == 1 and stored.last_failure is not None
    assert stored.last_failure.reason.endswith("answered HTTP 404 Not Found")


async def test_an_important_vote_brings_the_article_back_for_vote_rules(
    notifier_settings: Settings,
    contexts: list[ServiceContext[Alerting]],
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
    redis: Redis,
) -> None:
    doc = analyzed(BTC, symbols=["BTC"])
    await store.import_documents([doc])
    rule = await add(alerts, hooks, "/hooks/votes", symbols=["BTC"], min_important=2)
    await notify(contexts[0], ArticleAnalyzed(article_id=doc["_id"]))
    assert hooks.received("/hooks/votes") == []
    app = create_app(notifier_settings)
    analyzed_stream = Streams(notifier_settings.stream_prefix)[ANALYZED]
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://localhost"
        ) as client,
    ):
        for kind in ("up", "important", "important"):
            r = await client.post(f"/api/articles/{doc['_id']}/votes", json={"kind": kind})
            assert r.status_code == 200
    entries = [entry_fields(f) for _, f in await redis.xrange(analyzed_stream)]
    assert [e["trigger"] for e in entries] == ["vote", "vote"]  # important votes only
    for entry in entries:
        await notify(contexts[1], ArticleAnalyzed.model_validate(entry))
    [got] = hooks.received("/hooks/votes")
    assert got.problem is None and got.json()["article"]["votes"]["important"] == 2
    assert got.key == idempotency_key(rule.id, doc["_id"])


async def test_articles_not_analyzed_now_are_skipped(
    contexts: list[ServiceContext[Alerting]],
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
) -> None:
    doc = analyzed(BTC, symbols=["BTC"], status="translated")  # refreshed, on its way again
    await store.import_documents([doc])
    await add(alerts, hooks, "/hooks/btc", symbols=["BTC"])
    await notify(contexts[0], ArticleAnalyzed(article_id=doc["_id"]))
    await notify(contexts[0], ArticleAnalyzed(article_id="f" * 64))  # missing
    assert hooks.received() == []


async def test_the_worker_delivers_from_the_stream_and_dead_letters_what_keeps_failing(
    notifier_settings: Settings,
    store: ArticleStore,
    alerts: AlertStore,
    hooks: WebhookServer,
    redis: Redis,
) -> None:
    streams = Streams(notifier_settings.stream_prefix)
    good, bad = analyzed(BTC, symbols=["BTC"]), analyzed("https://coins.example/x", symbols=["XRP"])
    await store.import_documents([good, bad])
    ok_rule = await add(alerts, hooks, "/hooks/ok", symbols=["BTC"])
    down_rule = await add(alerts, hooks, "/hooks/down", symbols=["XRP"])
    hooks.misbehave("/hooks/down", *["503"] * 20)
    # room for both attempts of each delivery within the handler time, on a loaded machine too
    worker_settings = notifier_settings.model_copy(
        update={"handler_timeout": 3.0, "claim_idle_ms": 4_000}
    )
    app = build_worker(spec, worker_settings)
    async with running(app):
        for doc in (good, bad):
            await redis.xadd(streams[ANALYZED], ArticleAnalyzed(article_id=doc["_id"]).to_fields())

        async def settled() -> bool:
            failed = await alerts.delivery(idempotency_key(down_rule.id, bad["_id"]))
            return failed is not None and failed.state == "failed"

        await wait_for(settled, timeout=60, what="the failing alert to be given up")
    [got] = hooks.received("/hooks/ok")
    assert got.problem is None and got.key == idempotency_key(ok_rule.id, good["_id"])
    # max_deliveries (3) deliveries of the message, two attempts each
    assert len(hooks.received("/hooks/down")) == 3 * 2
    record = await alerts.delivery(idempotency_key(down_rule.id, bad["_id"]))
    assert record is not None and record.reason is not None
    assert record.reason.startswith("gave up after 3 deliveries: AlertsPending")
    dead = await redis.xrange(streams.dead)
    assert len(dead) == 1 and entry_fields(dead[0][1])["stage"] == "notifier"
    assert (await store.article(bad["_id"])).status.value == "analyzed"  # not failed: not a stage
    assert await redis.xpending(streams[ANALYZED], "notifier") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
