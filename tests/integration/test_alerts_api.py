"""The alert rules through the HTTP API and the reader's page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from tests.support.apps import reader_client
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.integration

SLACK = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def error_of(r: httpx.Response) -> str:
    return str(r.json()["error"]["message"]) + " " + " ".join(r.json()["error"]["details"])


@pytest.fixture
def hooks() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def reader_settings(settings: Settings, hooks: WebhookServer) -> Settings:
    port = int(hooks.base.rsplit(":", 1)[1])
    return settings.model_copy(
        update={
            "fetch_allowed_ports": [80, 443, port],
            "alert_retries": 0,
            "api_token": SecretStr("tok"),
        }
    )


AUTH = {"authorization": "Bearer tok"}


async def test_rules_through_the_api_secret_once_urls_redacted(
    reader_settings: Settings, store: ArticleStore, hooks: WebhookServer
) -> None:
    async with reader_client(reader_settings) as client:
        spec = {
            "url": hooks.url(SLACK),
            "symbols": ["btc"],
            "direction": "bullish",
            "min_confidence": 0.6,
            "format": "slack",
            "name": "BTC bulls",
        }
        assert (await client.post("/api/alerts", json=spec)).status_code == 401
        assert (await client.get("/api/alerts")).status_code == 401  # rules are private
        r = await client.post("/api/alerts", json=spec, headers=AUTH)
        assert r.status_code == 201, r.text
        created = r.json()
        secret, rule = created["secret"], created["rule"]
        assert secret.startswith("whsec_")
        assert rule["criteria"] == ["symbol BTC", "direction bullish", "confidence >= 0.6"]
        assert rule["url"] == hooks.base + "/…" and "XXXX" not in r.text.replace(secret, "")
        listed = (await client.get("/api/alerts", headers=AUTH)).json()["items"]
        assert [x["id"] for x in listed] == [rule["id"]]
        assert secret not in (await client.get("/api/alerts", headers=AUTH)).text
        assert (await client.get(f"/api/alerts/{rule['id']}", headers=AUTH)).json()[
            "name"
        ] == "BTC bulls"
        # a prefix of 4+ digits finds it too (the only rule); fewer is refused
        by_prefix = await client.get(f"/api/alerts/{rule['id'][:5]}", headers=AUTH)
        assert by_prefix.status_code == 200 and by_prefix.json()["id"] == rule["id"]
        assert (await client.get(f"/api/alerts/{rule['id'][:3]}", headers=AUTH)).status_code == 422

        r = await client.post(f"/api/alerts/{rule['id']}/test", headers=AUTH)
        assert r.json() == {"ok": True, "detail": f"delivered: HTTP 200 from {hooks.base}/…"}
        [got] = hooks.received(SLACK)
        assert got.problem is None and "Newsflow test alert" in got.json()["text"]

        assert (await client.delete(f"/api/alerts/{rule['id']}", headers=AUTH)).status_code == 204
        assert (await client.delete(f"/api/alerts/{rule['id']}", headers=AUTH)).status_code == 404
        assert (await client.get("/api/alerts", headers=AUTH)).json()["items"] == []


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (
            {"url": "http://169.254.169.254/hook", "symbols": ["BTC"]},
            "url: refused: 169.254.169.254 is a link-local (cloud metadata) address",
        ),
        (
            {"url": "https://hooks.example.com:6379/x", "symbols": ["BTC"]},
            "url: refused: port 6379 is not allowed",
        ),
        ({"url": "https://hooks.example.com/x"}, "at least one criterion"),
        (
            {"url": "https://hooks.example.com/x", "symbols": ["BTC"], "format": "telegram"},
            "chat_id",
        ),
        ({"url": "https://hooks.example.com/x", "symbols": ["BTC"], "secret": "mine"}, "secret"),
    ],
)
async def test_invalid_rules_get_422_with_the_reason(
    reader_settings: Settings, store: ArticleStore, spec: dict[str, object], words: str
) -> None:
    async with reader_client(reader_settings) as client:
        r = await client.post("/api/alerts", json=spec, headers=AUTH)
        assert r.status_code == 422 and words in error_of(r)
        assert (await client.get("/api/alerts", headers=AUTH)).json()["items"] == []


async def test_the_rules_page_adds_shows_the_secret_once_tests_and_removes(
    reader_settings: Settings, store: ArticleStore, hooks: WebhookServer
) -> None:
    async with reader_client(reader_settings) as client:
        page = await client.get("/alerts")
        assert (
            page.status_code == 200 and "log in" in page.text and 'id="add-rule"' not in page.text
        )
        assert (await client.post("/login", data={"token": "tok"})).status_code == 303
        form = {
            "name": "zh news",
            "languages": "zh",
            "keywords": "英伟达, ETF",
            "url": hooks.url("/hooks/page"),
            "format": "json",
            "direction": "",
            "min_confidence": "",
            "min_important": "",
        }
        r = await client.post("/alerts", data=form)
        assert r.status_code == 200 and 'id="created"' in r.text
        secret = r.text.split('<code class="secret">')[1].split("</code>")[0]
        assert secret.startswith("whsec_")
        page = await client.get("/alerts")
        assert secret not in page.text
        assert "language zh; keyword &#39;英伟达&#39; or &#39;ETF&#39;" in page.text
        rule_id = page.text.split('data-rule="')[1].split('"')[0]
        hooks.secrets["/hooks/page"] = secret
        r = await client.post(f"/alerts/{rule_id}/test")
        assert 'data-ok="true"' in r.text
        assert hooks.received("/hooks/page")[0].problem is None  # signed with the shown secret
        bad = await client.post("/alerts", data={**form, "url": "http://169.254.169.254/x"})
        assert bad.status_code == 422 and "link-local (cloud metadata)" in bad.text
        assert 'value="zh news"' in bad.text  # the form keeps what was typed
        r = await client.post(f"/alerts/{rule_id}/remove")
        assert r.status_code == 303
        assert "No alert rules yet" in (await client.get("/alerts")).text
