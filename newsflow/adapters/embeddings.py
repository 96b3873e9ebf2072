"""Embeddings from any OpenAI-compatible ``/embeddings`` endpoint, and the vector search.

Set ``NEWSFLOW_EMBED_PROVIDER=openai`` with ``NEWSFLOW_EMBED_BASE_URL``, ``NEWSFLOW_EMBED_MODEL``
and ``NEWSFLOW_EMBED_API_KEY``, as for the chat providers: OpenAI (``text-embedding-3-small``),
Gemini's OpenAI-compatible endpoint (``.../v1beta/openai``, ``text-embedding-004``), Ollama
(``http://localhost:11434/v1``, ``nomic-embed-text``), vLLM and text-embeddings-inference
(``http://host:port/v1``) all answer ``POST {base}/embeddings`` with ``{"data": [{"embedding":
[...]}]}``. ``NEWSFLOW_EMBED_DIMENSIONS`` (optional) is sent as ``dimensions`` (OpenAI's
text-embedding-3 models shorten their vectors on request).

Nearest neighbours: :class:`VectorSearch` keeps an HNSW graph (faiss ``IndexHNSWFlat``, inner
product on unit vectors = cosine) of the vectors stored on the articles, loaded from MongoDB
on first use and brought up to date before each search by reading only the vectors stored
since (``embedding.at``), so several analyzer replicas each see every vector. MongoDB's own
``$vectorSearch`` needs Atlas or mongod with mongot; SecantusDB refuses the stage. The vectors
are stored as BSON vectors (binary subtype 9) so an Atlas vector index could serve them.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from typing import Any

import httpx
import numpy as np
from pydantic import SecretStr

from newsflow.adapters.providers import ProviderConfigError, ProviderError
from newsflow.adapters.providers._openai import host_of, normalize_base_url
from newsflow.adapters.similar import SimilarIndex
from newsflow.settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Longest text sent to be embedded (characters): the title and the start of the text.
MAX_CHARS = 8_000
#: Vectors read per sync query.
SYNC_BATCH = 5_000


class EmbeddingsClient:
    """``embed(text) -> unit vector`` over an OpenAI-compatible ``/embeddings`` endpoint."""

    def __init__(
        self, base_url: str, model: str, api_key: str | SecretStr = "", *, dimensions: int = 0,
        timeout: float = 60.0, retries: int = 2, backoff: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:  # fmt: skip
        if not model.strip():
            raise ProviderError("no model name given")
        url = normalize_base_url(base_url)
        url = url.removesuffix("/embeddings")
        self.base_url = url
        self.model = model.strip()
        self.dimensions = dimensions
        self.where = f"embeddings provider at {host_of(url)}"
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.calls = 0

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"User-Agent": "Newsflow/0.1"}
            key = self._key.get_secret_value()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0)),
                headers=headers, transport=self._transport, follow_redirects=False,
            )  # fmt: skip
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def embed(self, text: str) -> list[float]:
        """The unit-length embedding of ``text`` (cut to :data:`MAX_CHARS`).

        Raises:
            ProviderError: with a readable reason (status, malformed answer, timeout).
        """
        payload: dict[str, Any] = {"model": self.model, "input": [text[:MAX_CHARS] or " "]}
        if self.dimensions:
            payload["dimensions"] = self.dimensions
        attempt = 0
        while True:
            try:
                response = await self._http().post(f"{self.base_url}/embeddings", json=payload)
                retryable = response.status_code == 429 or response.status_code >= 500
                if response.status_code != 200:
                    raise ProviderError(
                        f"{self.where} answered HTTP {response.status_code}", retryable=retryable
                    )
                self.calls += 1
                return _unit(_vector(response))
            except httpx.TimeoutException:
                error = ProviderError(f"{self.where} timed out", retryable=True)
            except httpx.HTTPError:
                error = ProviderError(f"{self.where}: cannot connect", retryable=True)
            except ProviderError as exc:
                error = exc
            if not error.retryable or attempt >= self.retries:
                raise error
            await asyncio.sleep(self.backoff * 2**attempt)
            attempt += 1


def _vector(response: httpx.Response) -> list[float]:
    try:
        body = response.json()
        values = body["data"][0]["embedding"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ProviderError("the embeddings answer has no data[0].embedding") from None
    if not isinstance(values, list) or not values or len(values) > 8192:
        raise ProviderError("the embedding is not a list of 1 to 8192 numbers")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ProviderError("the embedding holds a value that is not a finite number")
        out.append(float(v))
    return out


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    if norm == 0:
        raise ProviderError("the embedding is the zero vector")
    return [v / norm for v in values]


def embeddings_client(settings: Settings) -> EmbeddingsClient | None:
    """The configured client, or None when ``embed_provider`` is ``none``.

    Raises:
        ProviderConfigError: a provider is chosen but the model or base URL is unusable.
    """
    if settings.embed_provider == "none":
        return None
    if not settings.embed_model.strip():
        raise ProviderConfigError(
            "NEWSFLOW_EMBED_PROVIDER is set but NEWSFLOW_EMBED_MODEL is empty: name the model "
            "(e.g. text-embedding-3-small, nomic-embed-text)"
        )
    try:
        return EmbeddingsClient(
            settings.embed_base_url or DEFAULT_BASE_URL, settings.embed_model,
            settings.embed_api_key, dimensions=settings.embed_dimensions,
            timeout=settings.llm_timeout, retries=settings.llm_retries,
            backoff=settings.llm_backoff,
        )  # fmt: skip
    except ProviderError as exc:
        raise ProviderConfigError(f"NEWSFLOW_EMBED_BASE_URL: {exc.reason}") from None


class VectorSearch:
    """An HNSW index (faiss) of the stored vectors, kept in step with MongoDB.

    The first search starts loading every stored vector in the background (building the
    graph of 100,000 vectors of 256 dimensions took 45 s of one core here) and finds
    nothing until the load is done: articles analyzed meanwhile get the lexical list only.
    After that, each search first reads the vectors stored since the previous one.

    Args:
        index: the store's similar-events index (vectors are read from it).
        m: HNSW neighbours per node; ``ef_search``: the search breadth. ``bench/similar.py``
            at 100,000 vectors: efSearch 64, 128, 256 gave recall at 10 of 0.88, 0.975,
            0.995 in 0.6, 1.1, 2.0 ms; exact search (faiss ``IndexFlatIP``) took 10.8 ms.
    """

    def __init__(self, index: SimilarIndex, *, m: int = 32, ef_search: int = 128) -> None:
        self._store = index
        self._m = m
        self._ef = ef_search
        self._faiss: Any = None
        self._dims = 0
        self._ids: list[str] = []
        self._known: dict[str, int] = {}
        self._since: datetime | None = None
        self._lock = asyncio.Lock()
        self._loading: asyncio.Task[None] | None = None
        #: True once every vector stored before the first search is in the graph.
        self.ready = False

    def __len__(self) -> int:
        return len(self._ids)

    def _add(self, rows: list[tuple[str, list[float], datetime]]) -> None:
        import faiss  # heavy: imported only where vectors are used

        fresh = [(aid, vec) for aid, vec, _ in rows if aid not in self._known]
        if not fresh:
            return
        dims = len(fresh[0][1])
        if self._faiss is None:
            self._dims = dims
            self._faiss = faiss.IndexHNSWFlat(dims, self._m, faiss.METRIC_INNER_PRODUCT)
            self._faiss.hnsw.efSearch = self._ef
        fresh = [(aid, vec) for aid, vec in fresh if len(vec) == self._dims]
        if not fresh:
            return
        matrix = np.asarray([vec for _, vec in fresh], dtype=np.float32)
        self._faiss.add(matrix)
        for aid, _ in fresh:
            self._known[aid] = len(self._ids)
            self._ids.append(aid)

    async def sync(self) -> int:
        """Read the vectors stored since the last sync; the number of reads it took."""
        reads = 0
        async with self._lock:
            while True:
                rows = await self._store.vectors_since(self._since, SYNC_BATCH)
                reads += 1
                if rows:
                    # a big batch (the first load) is built off the event loop
                    if len(rows) > 100:
                        await asyncio.to_thread(self._add, rows)
                    else:
                        self._add(rows)
                    newest = rows[-1][2]
                    advanced = self._since is None or newest > self._since
                    self._since = newest
                    if len(rows) == SYNC_BATCH and advanced:
                        continue
                return reads

    async def load(self) -> None:
        """Load every stored vector now (what the background load does)."""
        await self.sync()
        self.ready = True

    async def search(self, vector: list[float], k: int, *, exclude: str) -> list[tuple[str, float]]:
        """The ``k`` nearest stored vectors to ``vector`` (cosine), ``exclude`` left out;
        nothing while the first load runs (started by the first call)."""
        if not self.ready:
            if self._loading is None or (self._loading.done() and not self.ready):
                self._loading = asyncio.create_task(self.load())
            return []
        await self.sync()
        if self._faiss is None or len(vector) != self._dims or not self._ids:
            return []
        query = np.asarray([vector], dtype=np.float32)
        scores, rows = self._faiss.search(query, min(k + 1, len(self._ids)))
        out = []
        for score, row in zip(scores[0], rows[0], strict=True):
            if row < 0 or self._ids[row] == exclude:
                continue
            out.append((self._ids[row], float(score)))
        return out[:k]
