"""Wiring of the translator worker."""

from newsflow.adapters.providers import ChatProvider, translation_provider
from newsflow.domain.pipeline import TRANSLATOR
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings

from .handlers import translate


async def open_provider(settings: Settings) -> ChatProvider | None:
    return translation_provider(settings)


spec = StageSpec(stage=TRANSLATOR, handle=translate, open_resources=open_provider)
