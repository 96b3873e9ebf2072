"""Wiring of the fetcher worker."""

from newsflow.domain.pipeline import FETCHER
from newsflow.runtime.worker import StageSpec
from newsflow.settings import Settings
from newsflow.stages.fetching import PageFetcher

from .handlers import fetch


async def open_client(settings: Settings) -> PageFetcher:
    return PageFetcher(settings)


spec = StageSpec(stage=FETCHER, handle=fetch, open_resources=open_client)
