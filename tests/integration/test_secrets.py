"""Secrets and internal addresses never reach what anonymous readers see (issue 9, finding 2).

Provider errors used to embed the whole base URL (``user:password@`` included, which httpx
sends as Basic auth) and the provider's own error body (OpenAI's 401 echoes part of the key);
they were stored as ``translation.error`` / ``analysis.impact.reason`` and shown on the page
and in the API. Stored reasons now name the provider by kind and host only; the details go to
the worker's log, masked. Fetch failures keep no credentials of a redirect either, and the
reader masks what older versions stored.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from newsflow.adapters.providers import OpenAICompatible
from newsflow.adapters.store import ArticleStore
from newsflow.domain.contracts import ExtractionResult
from newsflow.domain.redact import install_log_masking
from newsflow.settings import Settings
from newsflow.stages.fetching import FetchFailed
from newsflow.stages.impact import analyze_impact
from newsflow.stages.translation import translate_article
from tests.integration.test_fetch_http import make_fetcher
from tests.integration.test_reader_api import article
from tests.support.hostile_server import HostileServer
from tests.support.llm_server import LLMServer
from tests.support.workers import run_newsflow

pytestmark = pytest.mark.integration

KEY = "sk-live-0123456789abcdefSECRET"
PASSWORD = "hunter2-Pa55"
SETTINGS = Settings(translate_chunk_chars=300, impact_max_chars=600, _env_file=None)
ARTICLE = ExtractionResult(
    status="ok", title="苹果股价上涨", text="苹果公司股价上涨。", language="zh"
)
#: Pieces of what must never be stored or shown.
SECRETS = (
    PASSWORD,
    "admin:",
    KEY,
    KEY[:8],
    KEY[-4:],
    "Incorrect API key",
    "10.20.30.40",
    "authorization",
    "Bearer",
)


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="sk-the-right-key-000000") as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(llm: LLMServer) -> None:
    llm.reset()


def with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://admin:{PASSWORD}@")


def host_of(llm: LLMServer) -> str:
    return f"127.0.0.1:{llm.port}"


def assert_clean(text: str | None) -> None:
    assert text
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), f"{secret!r} in {text!r}"


async def test_a_refused_key_is_stored_without_the_key_or_the_body(
    llm: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAICompatible(with_userinfo(llm.url), "m", KEY, retries=0) as provider:
        translated = await translate_article(ARTICLE, provider, SETTINGS)
        impact = await analyze_impact("Apple", "Apple rose.", ["AAPL"], provider, SETTINGS)
    for reason in (translated.error, impact.reason):
        assert_clean(reason)
        assert f"openai provider at {host_of(llm)}: the API key was refused (HTTP 401" in reason
    # The provider's own words go to the log, masked: what an operator needs to act on.
    assert "Incorrect API key provided" in caplog.text
    assert KEY not in caplog.text and PASSWORD not in caplog.text
    # Sent as Basic auth (from the URL's user-info), as httpx did before.
    assert llm.requests[0].headers["authorization"].startswith("Basic ")


async def test_server_errors_and_gateway_bodies_are_not_stored(
    llm: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAICompatible(llm.url, "m", "sk-the-right-key-000000", retries=0) as provider:
        llm.misbehave("leak", "leak")
        translated = await translate_article(ARTICLE, provider, SETTINGS)
        llm.misbehave("leak")
        impact = await analyze_impact("Apple", "Apple rose.", ["AAPL"], provider, SETTINGS)
        llm.misbehave("broken-body", "broken-body")
        broken = await translate_article(ARTICLE, provider, SETTINGS)
    for reason in (translated.error, impact.reason):
        assert_clean(reason)
        assert f"openai provider at {host_of(llm)}: " in reason and "HTTP 502" in reason
    assert_clean(broken.error)
    assert "<html>" not in (broken.error or "") and "not JSON" in (broken.error or "")
    assert "10.20.30.40" in caplog.text  # the details are in the log
    assert "sk-the-right-key-000000" not in caplog.text


async def test_an_unreachable_provider_is_named_by_host(llm: LLMServer) -> None:
    url = with_userinfo("http://127.0.0.1:9/v1")  # port 9 (discard): refused at once
    async with OpenAICompatible(url, "m", KEY, retries=0) as provider:
        translated = await translate_article(ARTICLE, provider, SETTINGS)
    assert_clean(translated.error)
    assert "openai provider at 127.0.0.1:9: cannot connect (ConnectError)" in (
        translated.error or ""
    )


async def test_request_logs_carry_no_credentials(llm: LLMServer) -> None:
    # httpx logs every request URL at INFO: the base URL's password must not be in it, and the
    # worker's handlers mask whatever else looks like a credential (tracebacks included).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    install_log_masking([KEY], handlers=[handler])  # as run() does for the worker's handlers
    try:
        async with OpenAICompatible(with_userinfo(llm.url), "m", KEY, retries=0) as provider:
            try:
                await provider.complete([{"role": "user", "content": "Hello"}])
            except Exception:
                logging.getLogger("test").exception("call failed with key %s", KEY)
        logging.getLogger("test").warning("connecting to redis://user:%s@10.0.0.3:6379/0", PASSWORD)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    text = stream.getvalue()
    assert "HTTP Request: POST" in text and "call failed with key" in text
    assert PASSWORD not in text and KEY not in text and "admin:" not in text
    assert "redis://***@10.0.0.3:6379/0" in text


# --- fetching ----------------------------------------------------------------------------------


async def test_a_redirect_to_a_url_with_credentials_keeps_none_of_them() -> None:
    with HostileServer() as server:
        fetcher = make_fetcher(server, fetch_retries=0)
        try:
            target = f"http://admin:{PASSWORD}@127.0.0.1:{server.port}/page"
            with pytest.raises(FetchFailed) as caught:
                await fetcher.fetch(server.url(f"/redirect?to={target}"))
        finally:
            await fetcher.aclose()
    failure = caught.value
    assert failure.refused and "user name or password" in failure.reason
    assert failure.final_url == f"http://127.0.0.1:{server.port}/page"
    assert PASSWORD not in repr(failure) and PASSWORD not in failure.reason


# --- what the reader shows of documents stored by earlier versions -----------------------------


async def test_the_reader_masks_credentials_in_stored_reasons(
    client: httpx.AsyncClient, store: ArticleStore
) -> None:
    leaked = f"cannot reach http://admin:{PASSWORD}@10.0.0.5:8080/v1: ConnectError"
    doc = article("https://a.example/leaky", title="Leaky")
    doc["translation"] = {"status": "failed", "error": leaked, "provider": "10.0.0.5:8080"}
    doc["analysis"]["impact"] = {"status": "failed", "reason": f"401 for Bearer {KEY}"}
    doc["status"], doc["failure"] = "failed", {"stage": "analyzed", "reason": leaked}
    await store.import_documents([doc])
    for path in (
        f"/articles/{doc['_id']}",
        f"/api/articles/{doc['_id']}",
        f"/api/articles/{doc['_id']}/status",
        "/api/articles",
        "/",
    ):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert PASSWORD not in r.text and KEY not in r.text, path
    r = await client.get(f"/api/articles/{doc['_id']}")
    assert r.json()["translation"]["error"].startswith("cannot reach http://***@10.0.0.5:8080/v1")


def test_a_worker_process_masks_its_log() -> None:
    # What `python -m services.<name>` and the reader set up: every line masked, with the
    # configured keys and token masked by value whatever their shape.
    code = (
        "import logging\n"
        "from newsflow.runtime.logs import configure_logging\n"
        "from newsflow.settings import Settings\n"
        "configure_logging(Settings(_env_file=None))\n"
        "log = logging.getLogger('newsflow.test')\n"
        "log.warning('impact key %s, token %s', 'plain-impact-key', 'plain-api-token')\n"
        # httpx logs each request's URL at INFO: a chat webhook's token must not reach the log
        "import httpx\n"
        "url = 'http://127.0.0.1:9/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage'\n"
        "logging.getLogger('httpx').info('HTTP Request: POST %s', url)\n"
        "log.warning('delivery to %s failed', url)\n"
        "try:\n"
        "    raise OSError('cannot reach redis://:pw1234@10.0.0.3:6379/0')\n"
        "except OSError:\n"
        "    log.exception('Redis is down')\n"
    )
    keys = Settings(impact_api_key="plain-impact-key", api_token="plain-api-token", _env_file=None)
    done = run_newsflow(keys, code=code, timeout=60)
    assert done.returncode == 0, done.stderr
    log = done.stderr
    assert "impact key ***, token ***" in log
    assert "OSError: cannot reach redis://***@10.0.0.3:6379/0" in log
    assert "plain-impact-key" not in log and "plain-api-token" not in log and "pw1234" not in log
    assert "HTTP Request" not in log  # httpx's own request lines are off
    assert "delivery to http://127.0.0.1:9/bot123456789:***/sendMessage failed" in log
    assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in log
