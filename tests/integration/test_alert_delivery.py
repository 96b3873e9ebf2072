"""Webhook delivery against local receivers: signatures, chat services' request shapes,
retries with backoff, failures in words, and the claim that makes replicas send once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from newsflow.adapters.alerts import AlertStore, AmbiguousRule, Claim, RuleNotFound
from newsflow.adapters.webhooks import WebhookSender
from newsflow.settings import Settings
from newsflow.stages.alerts import (
    AlertRule,
    RuleSpec,
    Subject,
    idempotency_key,
    render,
    signed_headers,
)
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.integration

TELEGRAM = "/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
DISCORD = "/api/webhooks/223704706495545344/3d89bb7572e0fb30d8128367b3b1b44fecd1726de135cbe28a41f8b2f777c372ba2939e72279b94526ff5d1bd4358d65cf11"
SLACK = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


@pytest.fixture
def hooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def alert_settings(settings: Settings, hooks: WebhookServer) -> Settings:
    port = int(hooks.base.rsplit(":", 1)[1])
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [80, 443, port],
            "alert_timeout": 1.0,
            "alert_retries": 3,
            "alert_backoff": 0.05,
            "alert_backoff_max": 0.5,
            "public_url": "https://news.example.org",
        }
    )


@pytest.fixture
async def sender(alert_settings: Settings) -> AsyncIterator[WebhookSender]:
    s = WebhookSender(alert_settings)
    yield s
    await s.aclose()


@pytest.fixture
async def alerts(settings: Settings) -> AsyncIterator[AlertStore]:
    store = AlertStore.connect(settings)
    await store.ensure_indexes()
    yield store
    store.close()


def make_rule(url: str, fmt: str = "json", **fields: object) -> AlertRule:
    extra: dict[str, object] = {"chat_id": "-1001234567890"} if fmt == "telegram" else {}
    spec = RuleSpec.model_validate(
        {"url": url, "symbols": ["BTC"], "format": fmt, **extra, **fields}
    )
    return AlertRule(
        **spec.model_dump(), id="0123456789ab", secret="whsec_test", created_at=datetime.now(UTC)
    )


SUBJECT = Subject(
    article_id="b" * 64,
    short_id="b" * 10,
    title="Bitcoin <rallies> & ETF inflows hit a record [read](http://evil.example) @everyone",
    original_title="比特币大涨",
    url="https://src.example/1",
    source="src.example",
    site="Source",
    language="zh",
    category="zh_crypto",
    symbols=("BTC",),
    keywords=("etf",),
    published=datetime(2026, 1, 2, tzinfo=UTC),
    direction="bullish",
    confidence=0.8,
    summary="Inflows <b>rose</b> & analysts expect more." * 40,
    impact_symbols=("BTC",),
    votes={"up": 1, "down": 0, "important": 0, "comments": 0},
)


async def send(sender: WebhookSender, rule: AlertRule, subject: Subject = SUBJECT) -> object:
    key = idempotency_key(rule.id, subject.article_id)
    payload = render(
        rule, subject, page_url="https://news.example.org/articles/" + subject.article_id, key=key
    )
    return await sender.deliver(
        rule.url, payload.body, lambda: signed_headers(rule.secret, payload.body, key)
    )


async def test_signed_json_verifies_with_the_documented_recipe(
    sender: WebhookSender, hooks: WebhookServer
) -> None:
    hooks.secrets["/hooks/a"] = "whsec_test"
    rule = make_rule(hooks.url("/hooks/a"))
    result = await send(sender, rule)
    assert result.ok and result.attempts == 1 and result.status == 200  # type: ignore[attr-defined]
    [got] = hooks.received("/hooks/a")
    assert got.problem is None and got.status == 200
    assert got.key == idempotency_key(rule.id, SUBJECT.article_id)
    assert got.json()["article"]["title"] == SUBJECT.title
    assert got.headers["content-type"] == "application/json"


async def test_a_wrong_secret_or_a_tampered_body_is_refused_by_the_receiver(
    sender: WebhookSender, hooks: WebhookServer
) -> None:
    hooks.secrets["/hooks/a"] = "whsec_other"
    result = await send(sender, make_rule(hooks.url("/hooks/a")))
    assert not result.ok and not result.retryable  # type: ignore[attr-defined]
    assert result.reason == f"{hooks.base.split('//')[1]} answered HTTP 401 Unauthorized"  # type: ignore[attr-defined]
    hooks.secrets["/hooks/b"] = "whsec_test"
    headers = signed_headers("whsec_test", b'{"a":1}', "k")
    tampered = await sender.post(hooks.url("/hooks/b"), b'{"a":2}', headers)
    assert tampered.status == 401
    assert hooks.received("/hooks/b")[0].problem == "signature does not match"
    stale = signed_headers("whsec_test", b'{"a":1}', "k", now=time.time() - 301)
    assert (await sender.post(hooks.url("/hooks/b"), b'{"a":1}', stale)).status == 401
    assert hooks.received("/hooks/b")[1].problem == "timestamp outside the 5-minute window"


@pytest.mark.parametrize(
    ("fmt", "path"), [("telegram", TELEGRAM), ("discord", DISCORD), ("slack", SLACK)]
)
async def test_chat_formats_are_accepted_by_receivers_that_check_the_api_shapes(
    sender: WebhookSender, hooks: WebhookServer, fmt: str, path: str
) -> None:
    result = await send(sender, make_rule(hooks.url(path), fmt))
    [got] = hooks.received(path)
    assert got.problem is None, got.problem
    assert result.ok and got.status in (200, 204)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("path", "body", "problem"),
    [
        (
            TELEGRAM,
            {"chat_id": 1, "text": "<script>x</script>", "parse_mode": "HTML"},
            'Bad Request: can\'t parse entities: Unsupported start tag "script"',
        ),
        (TELEGRAM, {"chat_id": 1, "text": "x" * 4097}, "Bad Request: message is too long"),
        (DISCORD, {"content": ""}, "50006 Cannot send an empty message"),
        (
            DISCORD,
            {"embeds": [{"title": "t" * 257}]},
            "50035 Invalid Form Body: embeds.title must be 256 or fewer in length",
        ),
        (
            SLACK,
            {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
            "invalid_blocks",
        ),
        (SLACK, {"username": "x"}, "no_text"),
    ],
)
async def test_the_stand_in_receivers_refuse_what_the_apis_refuse(
    sender: WebhookSender, hooks: WebhookServer, path: str, body: dict[str, object], problem: str
) -> None:
    """The receivers are strict, so their acceptance of our payloads means something."""
    result = await sender.post(hooks.url(path), json.dumps(body).encode(), {})
    assert not result.ok and result.status in (400, 404)
    assert hooks.received(path)[0].problem == problem


async def test_server_errors_are_retried_with_the_same_key_and_a_fresh_signature(
    sender: WebhookSender, hooks: WebhookServer
) -> None:
    hooks.secrets["/hooks/a"] = "whsec_test"
    hooks.misbehave("/hooks/a", "503", "429:0", "close")
    result = await send(sender, make_rule(hooks.url("/hooks/a")))
    assert result.ok and result.attempts == 4  # type: ignore[attr-defined]
    got = hooks.received("/hooks/a")
    assert [r.misbehaved for r in got] == ["503", "429:0", "close", None]
    assert len({r.key for r in got}) == 1
    assert got[-1].problem is None


async def test_retries_stop_after_the_setting_and_the_reason_names_the_host_only(
    sender: WebhookSender, hooks: WebhookServer
) -> None:
    path = "/hooks/token-SECRET-in-path"
    hooks.misbehave(path, "500", "500", "500", "500", "500")
    started = time.monotonic()
    result = await send(sender, make_rule(hooks.url(path)))
    elapsed = time.monotonic() - started
    host = hooks.base.split("//")[1]
    assert not result.ok and result.retryable and result.attempts == 4  # type: ignore[attr-defined]
    assert result.reason == f"{host} answered HTTP 500 Internal Server Error (4 attempts)"  # type: ignore[attr-defined]
    assert "SECRET" not in result.reason and "never stored" not in result.reason  # type: ignore[attr-defined]
    assert elapsed >= 0.05 + 0.1 + 0.2 - 0.05  # backoff 0.05, 0.1, 0.2 (+-10 %)
    assert len(hooks.received(path)) == 4


@pytest.mark.parametrize(
    ("behaviour", "words", "retryable"),
    [
        ("404", "answered HTTP 404 Not Found", False),
        ("redirect", "answered HTTP 302 Found (redirects are not followed)", False),
        ("slow:2", "no answer within 1 s", True),
    ],
)
async def test_failures_in_words(
    alert_settings: Settings, hooks: WebhookServer, behaviour: str, words: str, retryable: bool
) -> None:
    sender = WebhookSender(alert_settings.model_copy(update={"alert_retries": 0}))
    try:
        hooks.misbehave("/hooks/x", behaviour)
        result = await send(sender, make_rule(hooks.url("/hooks/x")))
    finally:
        await sender.aclose()
    host = hooks.base.split("//")[1]
    expected = f"{host}: {words}" if behaviour.startswith("slow") else f"{host} {words}"
    assert result.reason == expected  # type: ignore[attr-defined]
    assert result.retryable is retryable  # type: ignore[attr-defined]
    assert hooks.received("/hooks/elsewhere") == []  # the redirect was not followed


async def test_a_deadline_stops_retrying_early(sender: WebhookSender, hooks: WebhookServer) -> None:
    hooks.misbehave("/hooks/d", "500", "500", "500", "500")
    key = "k"
    result = await sender.deliver(
        hooks.url("/hooks/d"),
        b"{}",
        lambda: {"Idempotency-Key": key},
        deadline=time.monotonic() + 0.5,
    )
    assert not result.ok and result.attempts == 1 and result.retryable


# --- the store's claim ----------------------------------------------------------------------


async def test_rules_are_stored_listed_found_by_symbol_and_removed(alerts: AlertStore) -> None:
    btc = await alerts.add(RuleSpec(url="https://h.example/1", symbols=["BTC", "ETH"]))
    anything = await alerts.add(RuleSpec(url="https://h.example/2", direction="bearish"))
    await alerts.add(RuleSpec(url="https://h.example/3", symbols=["NVDA"]))
    assert btc.secret.startswith("whsec_") and len(btc.id) == 12
    assert [r.id for r in await alerts.rules()][:2] == [btc.id, anything.id]
    found = {r.id for r in await alerts.candidates(["btc"], limit=10)}
    assert found == {btc.id, anything.id}
    assert {r.id for r in await alerts.candidates([], limit=10)} == {anything.id}
    assert len(await alerts.candidates(["BTC"], limit=1)) == 1
    assert (await alerts.rule(btc.id)).secret == btc.secret
    await alerts.remove(btc.id)
    with pytest.raises(RuleNotFound):
        await alerts.rule(btc.id)
    with pytest.raises(RuleNotFound):
        await alerts.remove(btc.id)


async def test_a_rule_is_found_by_a_prefix_of_its_id_unless_it_is_ambiguous(
    alerts: AlertStore,
) -> None:
    rules = [
        await alerts.add(RuleSpec(url=f"https://h.example/{i}", direction="bearish"))
        for i in range(40)
    ]
    one = rules[0]
    # the shortest prefix of at least 4 digits that no other rule shares
    unique = next(
        one.id[:n] for n in range(4, 13) if not any(r.id.startswith(one.id[:n]) for r in rules[1:])
    )
    assert (await alerts.rule(unique.upper())).id == one.id
    with pytest.raises(RuleNotFound, match="give at least 4 digits"):
        await alerts.rule(one.id[:3])  # too short to be a prefix
    with pytest.raises(RuleNotFound, match="no alert rule"):
        await alerts.rule("zzzz")  # not hexadecimal
    # two rules with ids of a common prefix (made so: ids are random)
    await alerts.remove(rules[1].id)
    other = "0" if one.id[6] != "0" else "1"
    twin = f"{one.id[:6]}{other}00000"
    await alerts._rules.insert_one({"_id": twin, "url": "https://h.example/twin"})
    with pytest.raises(AmbiguousRule, match="matches several rules"):
        await alerts.rule(one.id[:6])
    longer = max(unique, one.id[:7], key=len)  # shared with no other rule, nor the twin
    assert await alerts.remove(longer) == one.id
    with pytest.raises(RuleNotFound):
        await alerts.rule(one.id)


async def test_one_claim_wins_among_concurrent_replicas(alerts: AlertStore) -> None:
    rule = await alerts.add(RuleSpec(url="https://h.example/1", symbols=["BTC"]))
    key = idempotency_key(rule.id, "c" * 64)
    claims = await asyncio.gather(
        *(
            alerts.claim(key, rule_id=rule.id, article_id="c" * 64, owner=f"r{i}", lease_seconds=30)
            for i in range(8)
        )
    )
    assert claims.count(Claim.CLAIMED) == 1 and claims.count(Claim.BUSY) == 7
    await alerts.delivered(key, status=200, attempts=1)
    again = await alerts.claim(
        key, rule_id=rule.id, article_id="c" * 64, owner="r9", lease_seconds=30
    )
    assert again is Claim.DELIVERED
    await alerts.delivered(key, status=200, attempts=1)  # a repeated record counts once
    stored = await alerts.rule(rule.id)
    assert stored.deliveries == 1 and stored.last_delivery_at is not None


async def test_an_expired_lease_or_a_retryable_failure_can_be_claimed_again(
    alerts: AlertStore,
) -> None:
    rule = await alerts.add(RuleSpec(url="https://h.example/1", symbols=["BTC"]))
    aid = "d" * 64
    key = idempotency_key(rule.id, aid)
    assert (
        await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="a", lease_seconds=0.2)
        is Claim.CLAIMED
    )
    assert (
        await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="b", lease_seconds=5)
        is Claim.BUSY
    )
    await asyncio.sleep(0.3)  # the owner died: its lease runs out
    assert (
        await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="b", lease_seconds=5)
        is Claim.CLAIMED
    )
    await alerts.failed(
        key,
        reason="h.example answered HTTP 503 Service Unavailable",
        attempts=4,
        status=503,
        final=False,
    )
    stored = await alerts.rule(rule.id)
    assert stored.failures == 1 and stored.last_failure is not None
    assert stored.last_failure.reason == "h.example answered HTTP 503 Service Unavailable"
    assert stored.last_failure.article_id == aid
    assert (
        await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="c", lease_seconds=5)
        is Claim.CLAIMED
    )
    await alerts.failed(
        key, reason="h.example answered HTTP 404 Not Found", attempts=1, status=404, final=True
    )
    assert (
        await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="d", lease_seconds=5)
        is Claim.FAILED
    )
    record = await alerts.delivery(key)
    assert record is not None and record.attempts == 5 and record.state == "failed"
    [recent] = await alerts.recent_failures(rule.id)
    assert recent.reason == "h.example answered HTTP 404 Not Found"


async def test_giving_up_an_article_fails_its_unfinished_deliveries(alerts: AlertStore) -> None:
    rule = await alerts.add(RuleSpec(url="https://h.example/1", symbols=["BTC"]))
    aid = "e" * 64
    key = idempotency_key(rule.id, aid)
    await alerts.claim(key, rule_id=rule.id, article_id=aid, owner="a", lease_seconds=5)
    await alerts.failed(
        key,
        reason="h.example: connection refused (4 attempts)",
        attempts=4,
        status=None,
        final=False,
    )
    # another rule's delivery of the article, held under a live lease, is left to its sender;
    # a third one whose sender's lease ran out is given up with the retrying one
    held = await alerts.add(RuleSpec(url="https://h.example/2", symbols=["BTC"]))
    held_key = idempotency_key(held.id, aid)
    await alerts.claim(held_key, rule_id=held.id, article_id=aid, owner="b", lease_seconds=60)
    lapsed = await alerts.add(RuleSpec(url="https://h.example/3", symbols=["BTC"]))
    lapsed_key = idempotency_key(lapsed.id, aid)
    await alerts.claim(lapsed_key, rule_id=lapsed.id, article_id=aid, owner="c", lease_seconds=0)
    assert await alerts.give_up(aid, "gave up after 3 deliveries") == 2
    assert (await alerts.delivery(held_key)).state == "sending"  # type: ignore[union-attr]
    assert (await alerts.delivery(lapsed_key)).state == "failed"  # type: ignore[union-attr]
    record = await alerts.delivery(key)
    assert record is not None and record.state == "failed"
    assert (
        record.reason
        == "gave up after 3 deliveries; last try: h.example: connection refused (4 attempts)"
    )
    assert (await alerts.rule(rule.id)).failures == 2


async def test_a_stored_rule_that_no_longer_validates_is_skipped(
    settings: Settings, alerts: AlertStore
) -> None:
    good = await alerts.add(RuleSpec(url="https://h.example/1", symbols=["BTC"]))
    bad = await alerts.add(RuleSpec(url="https://h.example/2", symbols=["BTC"]))
    # edited by hand in the database: no criterion left, a URL that is not http
    client: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(settings.mongo_url)
    try:
        await client[settings.mongo_db][f"{settings.mongo_collection}_alert_rules"].update_one(
            {"_id": bad.id}, {"$set": {"symbols": [], "url": "ftp://x"}}
        )
    finally:
        client.close()
    assert [r.id for r in await alerts.candidates(["BTC"], limit=10)] == [good.id]
    assert [r.id for r in await alerts.rules()] == [good.id]
