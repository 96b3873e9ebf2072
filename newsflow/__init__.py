"""Newsflow: a self-hostable news pipeline on Redis Streams and MongoDB.

The package is layered; each folder may import only from the ones above it:

- ``settings``: every ``NEWSFLOW_*`` setting.
- ``domain/``: what an article and a message are (contracts, URLs); no I/O.
- ``stages/``: the work of each stage (fetch, extract, translate, analyze) as plain functions
  and classes; no broker and no database.
- ``adapters/``: the outside world: the MongoDB store, URL intake on Redis, LLM providers.
- ``runtime/``: the stage worker runtime on Redis Streams (FastStream): claim, retry,
  dead letters, trimming.
- ``cli/``: the ``newsflow`` command and the embedded system it runs (``newsflow up``).

The entry points of the services are in ``services/<name>/`` at the top of the repository.
"""
