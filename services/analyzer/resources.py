"""What the analyzer worker opens once and its handler uses."""

from dataclasses import dataclass

from newsflow.adapters.embeddings import EmbeddingsClient, VectorSearch
from newsflow.runtime.deferred import LLMResources


@dataclass
class AnalyzerResources(LLMResources):
    """The impact provider and its sweep, and the embeddings provider with its vector search
    (None when ``NEWSFLOW_EMBED_PROVIDER`` is ``none``; the search is loaded on first use)."""

    embedder: EmbeddingsClient | None = None
    vectors: VectorSearch | None = None

    async def aclose(self) -> None:
        await super().aclose()
        if self.embedder is not None:
            await self.embedder.aclose()
