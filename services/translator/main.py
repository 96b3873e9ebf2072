"""Wiring of the translator worker."""

from newsflow.adapters.providers import translation_provider
from newsflow.domain.pipeline import TRANSLATOR
from newsflow.runtime.deferred import LLMResources
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings

from .handlers import translate


async def open_provider(settings: Settings) -> LLMResources:
    # Deferred translations resume by themselves when the day's budget allows.
    return LLMResources.open("translation", translation_provider(settings), settings)


spec = StageSpec(stage=TRANSLATOR, handle=translate, open_resources=open_provider)
