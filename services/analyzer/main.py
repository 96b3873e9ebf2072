"""Wiring of the analyzer worker."""

import asyncio

from newsflow.adapters.providers import impact_provider
from newsflow.domain.pipeline import ANALYZER
from newsflow.runtime.deferred import LLMResources
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings
from newsflow.stages.analysis import warm_up

from .handlers import analyze


async def open_provider(settings: Settings) -> LLMResources:
    await asyncio.to_thread(warm_up)  # load the Chinese dictionary before the first article
    # Deferred impact analyses resume by themselves when the day's budget allows.
    return LLMResources.open("impact", impact_provider(settings), settings)


spec = StageSpec(stage=ANALYZER, handle=analyze, open_resources=open_provider)
