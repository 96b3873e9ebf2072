"""Fixtures every end-to-end module uses (each module gets its own: module scope)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.corpus_server import Corpus, CorpusServer


@pytest.fixture(scope="module")
def corpus_server() -> Iterator[CorpusServer]:
    """The corpus pages over HTTP on 127.0.0.1 (read from ../shared/corpus)."""
    with CorpusServer(Corpus()) as server:
        yield server
