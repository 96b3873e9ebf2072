"""The embeddings client against the stand-in ``/embeddings`` endpoint, and the vector search
kept in step with vectors stored in SecantusDB."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from newsflow.adapters.embeddings import EmbeddingsClient, VectorSearch, embeddings_client
from newsflow.adapters.providers import ProviderConfigError, ProviderError
from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from tests.support.llm_server import LLMServer, embed

pytestmark = pytest.mark.integration


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key="k") as server:
        yield server


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_the_stand_in_embedding_is_a_function_of_the_words() -> None:
    a = embed("Google Stadia launches with a thin game library")
    b = embed("The Stadia launch: Google's game streaming arrives")
    c = embed("Feather duvet caused a man's lung disease")
    assert cosine(a, b) > cosine(a, c) + 0.3
    assert embed("Stadia LAUNCH") == embed("stadia launch")  # lowercased, deterministic
    assert abs(cosine(a, a) - 1.0) < 1e-9 and len(embed("x", 64)) == 64


async def test_client_embeds_and_sends_model_dimensions_and_key(llm: LLMServer) -> None:
    client = EmbeddingsClient(llm.url + "/embeddings", "m-embed", "k", dimensions=64)
    try:
        vector = await client.embed("Google Stadia")
    finally:
        await client.aclose()
    assert len(vector) == 64 and abs(cosine(vector, vector) - 1) < 1e-6
    request = llm.requests[-1]
    assert request.path == "/v1/embeddings"
    assert request.body == {"model": "m-embed", "input": ["Google Stadia"], "dimensions": 64}
    assert request.headers["authorization"] == "Bearer k"


async def test_client_retries_rate_limits_and_reports_bad_answers(llm: LLMServer) -> None:
    client = EmbeddingsClient(llm.url, "m", "k", retries=1, backoff=0)
    try:
        llm.misbehave("429")
        assert len(await client.embed("text")) == 256  # retried once
        llm.misbehave("broken-body")
        with pytest.raises(ProviderError, match="no data"):
            await client.embed("text")
        llm.misbehave("500", "500")
        with pytest.raises(ProviderError, match="HTTP 500"):
            await client.embed("text")
    finally:
        await client.aclose()
    wrong = EmbeddingsClient(llm.url, "m", "wrong", retries=0)
    try:
        with pytest.raises(ProviderError, match="HTTP 401"):
            await wrong.embed("text")
    finally:
        await wrong.aclose()


async def test_client_refuses_non_numbers() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"embedding": [0.1, "x"]}]})

    client = EmbeddingsClient("http://127.0.0.1:9/v1", "m", transport=httpx.MockTransport(answer))
    with pytest.raises(ProviderError, match="not a finite number"):
        await client.embed("t")
    await client.aclose()


def test_settings_build_the_client_or_say_what_is_missing(settings: Settings) -> None:
    assert embeddings_client(settings) is None
    with pytest.raises(ProviderConfigError, match="NEWSFLOW_EMBED_MODEL is empty"):
        embeddings_client(settings.model_copy(update={"embed_provider": "openai"}))
    with pytest.raises(ProviderConfigError, match="NEWSFLOW_EMBED_BASE_URL"):
        embeddings_client(settings.model_copy(update={
            "embed_provider": "openai", "embed_model": "m", "embed_base_url": "ftp://x"}))  # fmt: skip


async def test_vector_search_loads_then_reads_only_new_vectors(store: ArticleStore) -> None:
    texts = {"stadia": "Google Stadia launch games", "duvet": "feather duvet lung disease",
             "tesla": "Tesla electric vehicles record sales"}  # fmt: skip
    await store.import_documents([{"_id": k, "url": f"https://x.test/{k}"} for k in texts])
    for aid, text in texts.items():
        await store.similar.store_vector(aid, embed(text), "stand-in")
    search = VectorSearch(store.similar)
    # the first search starts the load in the background and finds nothing yet
    assert await search.search(embed("Stadia games from Google"), 2, exclude="none") == []
    assert search._loading is not None
    await search._loading
    assert search.ready
    found = await search.search(embed("Stadia games from Google"), 2, exclude="none")
    assert [aid for aid, _ in found][:1] == ["stadia"] and len(search) == 3
    await store.import_documents([{"_id": "stadia2", "url": "https://x.test/s2"}])
    await store.similar.store_vector("stadia2", embed("Google Stadia launch games review"), "s")
    found = await search.search(embed("Google Stadia launch games"), 3, exclude="stadia")
    assert found[0][0] == "stadia2" and "stadia" not in [a for a, _ in found]
    assert len(search) == 4  # the new one read, the others not added twice
