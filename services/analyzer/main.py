"""Wiring of the analyzer worker."""

import asyncio

from newsflow.adapters.embeddings import embeddings_client
from newsflow.adapters.providers import impact_provider
from newsflow.domain.pipeline import ANALYZER
from newsflow.runtime.deferred import LLMResources
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings
from newsflow.stages.analysis import warm_up

from .handlers import analyze
from .resources import AnalyzerResources


async def open_provider(settings: Settings) -> AnalyzerResources:
    await asyncio.to_thread(warm_up)  # load the Chinese dictionary before the first article
    embedder = embeddings_client(settings)  # a bad configuration stops the worker at start
    # Deferred impact analyses resume by themselves when the day's budget allows.
    base = LLMResources.open("impact", impact_provider(settings), settings)
    return AnalyzerResources(base.provider, base.deferred, embedder=embedder)


spec = StageSpec(stage=ANALYZER, handle=analyze, open_resources=open_provider)
