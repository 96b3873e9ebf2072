"""End to end: an alert rule on a symbol, added with `newsflow alerts add`, delivers one signed
webhook per matching analyzed article to a local receiver, with two notifier replicas of which
one is SIGKILLed while it sends.

Real redis-server and SecantusDB, the four stages and two notifiers as
`python -m services.<name>` processes, real corpus pages over local HTTP, the chat-completions
stand-in for translation and impact, and a receiver that verifies every request with the
README's recipe. The receiver is slow at first, so the killed notifier holds claimed alerts
in flight: those are the only ones a receiver may see twice, and then with the same
Idempotency-Key.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from redis.asyncio import Redis

from newsflow.adapters.alerts import AlertStore
from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import Status
from newsflow.domain.pipeline import ANALYZED, STAGES, TERMINAL, Streams
from newsflow.domain.urls import article_id, canonical_url
from newsflow.settings import Settings
from newsflow.stages.alerts import idempotency_key, subject_of
from tests.support.corpus_server import Corpus, CorpusServer
from tests.support.e2e import worker_settings
from tests.support.llm_server import LLMServer
from tests.support.webhook_server import WebhookServer
from tests.support.workers import WorkerProcesses, run_newsflow

pytestmark = pytest.mark.integration

CORPUS = Corpus()
#: English corpus pages, most of them about Apple (AAPL) by the current symbol tables; which
#: ones end up with the symbol is read from MongoDB, not assumed.
AAPL_PAGES = [
    "232a43fb15abde807427b2a7bf4f772e27b8760554370956d8291df4e8166dbf",
    "287e4d9f4af31733aad6534aefb2bd00fb344ec8d6ebf1ac99dbc4d762da0ca4",
    "291a8bf33ee49074f33dcff37544ac40506cae450db83b6cb63f02b9920b51c2",
    "5fa5679de56c43edf70685762c2d1f2de296432ae53aa46e075b552fee17cab8",
    "5fbc7ccb504c755ae23a85499a17518483d7862b74b4a5c34d86ede1a1a4448e",
    "65bf3048b500bbd84928d9122f99617ca898216b91add1d8b2ac09c670484a5c",
    "85439e26c41c75901820d01a13e8cea7836abb58635ea3986f71a163ab0311d3",
    "ad826691a8a2f9c4ce50cf0b885af933c4b5119c1f6235cd7df1dfb83f255bcc",
    "cc4aa22b8212aec7d289667c0a965569e6f06b9e9196ff8b02219bf2bc1b90d0",
    "e7d77f1869803e24667fa0b985cff27fb4139951a5ffa494bc9ba810df48fb30",
    "fde930b01859de8311c6a14f8aa8c72be0659b551367803deb6736cf3526cf2e",
]
OTHER_PAGES = [
    "098bb3e96c0acdf36efdcde45fb9cca3f8c82c7cb2071b76097a1b96155f1eb2",  # Netflix, Disney
    "70cb2d5bca75ab5a8f6bb378a38a52f882f6bda508de93b12502e74936d86ff2",
]
HOOK = "/hooks/aapl"


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="e2e-key") as server:
        yield server


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture(scope="module")
def stage_settings(
    redis_server: Any,
    mongo_server: Any,
    corpus_server: CorpusServer,
    llm: LLMServer,
    hooks: WebhookServer,
) -> Settings:
    hooks_port = int(hooks.base.rsplit(":", 1)[1])
    return worker_settings(
        redis_server, mongo_server, db="e2e_alerts", prefix="e2e-alerts",
        fetch_ports=[corpus_server.port, hooks_port], llm=llm, api_key="e2e-key",
        claim_idle_ms=45_000, handler_timeout=40, public_url="https://news.example.org",
    )  # fmt: skip


@pytest.fixture(scope="module")
def notifier_settings(stage_settings: Settings) -> Settings:
    """The notifiers reclaim a dead replica's messages within seconds (the stages keep the
    generous handler time that extraction under load needs)."""
    return stage_settings.model_copy(
        update={
            "handler_timeout": 4.0,
            "claim_idle_ms": 7_000,
            "alert_timeout": 3.0,
            "alert_retries": 2,
            "alert_backoff": 0.2,
        }
    )


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_one_signed_alert_per_matching_article_with_a_replica_killed(
    stage_settings: Settings,
    notifier_settings: Settings,
    corpus_server: CorpusServer,
    hooks: WebhookServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = ArticleStore.connect(stage_settings)
    alerts = AlertStore.connect(stage_settings)
    await store.drop()
    stages = WorkerProcesses(stage_settings, tmp_path_factory.mktemp("stages"))
    notifiers = WorkerProcesses(notifier_settings, tmp_path_factory.mktemp("notifiers"))
    try:
        # the rule, with the command line; its secret is printed once
        added = run_newsflow(
            stage_settings,
            "alerts",
            "add",
            "--symbol",
            "AAPL",
            "--url",
            hooks.url(HOOK),
            "--name",
            "Apple news",
        )
        assert added.returncode == 0, added.stderr
        rule_id = re.search(r"added rule ([0-9a-f]{12}): symbol AAPL", added.stdout).group(1)  # type: ignore[union-attr]
        hooks.secrets[HOOK] = re.search(r"secret: (whsec_\S+)", added.stdout).group(1)  # type: ignore[union-attr]
        # slow at first: the notifiers hold claimed alerts in flight for a while
        hooks.misbehave(HOOK, *["slow:1.5"] * 8)

        for stage in STAGES:
            stages.start(stage.name)
        for _ in range(2):
            notifiers.start("notifier")
        stages.wait_ready(timeout=120)
        notifiers.wait_ready(timeout=120)
        urls = [corpus_server.url("scrapinghub", p) for p in AAPL_PAGES + OTHER_PAGES]
        published = run_newsflow(stage_settings, "publish", *urls)
        assert published.returncode == 0, published.stderr
        ids = [article_id(canonical_url(u)) for u in urls]

        # kill notifier 0 while it holds claimed alerts
        victim = notifiers.procs["notifier"][0]

        async def victim_sending() -> list[Any]:
            records = await alerts.deliveries(rule_id=rule_id)
            return [
                r
                for r in records
                if r.state == "sending" and r.owner and r.owner.endswith(f"-{victim.pid}")
            ]

        in_flight = await until(victim_sending, 240, "notifier 0 to claim an alert")
        notifiers.kill("notifier", 0)

        async def all_settled() -> bool:
            found = await store.find(ids)
            return len(found) == len(ids) and all(a.status in TERMINAL for a in found.values())

        await until(all_settled, 300, "every article to be analyzed or failed")
        articles = await store.find(ids)
        expected = {
            a.id
            for a in articles.values()
            if a.status is Status.ANALYZED and "AAPL" in subject_of(a).all_symbols
        }
        assert len(expected) >= 3, {a.id[:10]: (a.status, a.symbols) for a in articles.values()}
        keys = {idempotency_key(rule_id, aid): aid for aid in expected}

        async def all_delivered() -> bool:
            records = await alerts.deliveries(rule_id=rule_id)
            return {r.key for r in records if r.state == "delivered"} == set(keys)

        await until(all_delivered, 120, "every matching article's alert to be delivered")
        await asyncio.sleep(1.0)  # nothing more may come
        received = hooks.received(HOOK)
        accepted = [r for r in received if r.status == 200]
        # every request was genuine: the receiver verified it with the README's recipe
        assert all(r.problem is None for r in received), [r.problem for r in received]
        # one alert per matching article, none for the others
        assert {r.key for r in accepted} == set(keys)
        assert {r.json()["article"]["id"] for r in accepted} == expected
        # only alerts the killed replica held in flight may have come twice, with one key
        repeated = len(accepted) - len({r.key for r in accepted})
        assert repeated <= len(in_flight)
        killed_keys = {r.key for r in in_flight}
        counts = {k: sum(1 for r in accepted if r.key == k) for k in keys}
        assert all(n == 1 for k, n in counts.items() if k not in killed_keys), counts
        rule = await alerts.rule(rule_id)
        assert rule.deliveries == len(expected) and rule.failures == 0
        # the killed replica's messages were taken over: nothing is left pending
        assert "notifier" in run_newsflow(stage_settings, "status").stdout
        streams = Streams(stage_settings.stream_prefix)
        redis = Redis.from_url(stage_settings.redis_url)
        try:
            summary = await redis.xpending(streams[ANALYZED], "notifier")
            assert summary["pending"] == 0
        finally:
            await redis.aclose()
        listed = run_newsflow(stage_settings, "alerts", "list", "--json")
        [shown] = json.loads(listed.stdout)
        assert shown["id"] == rule_id and shown["deliveries"] == len(expected)
        assert shown["url"] == hooks.base + "/…" and "secret" not in shown
        assert rule_id in run_newsflow(stage_settings, "alerts", "list").stdout
    finally:
        notifiers.stop_all()
        stages.stop_all()
        await store.drop()
        store.close()
        alerts.close()
