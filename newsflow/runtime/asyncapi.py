"""The pipeline's AsyncAPI document, generated from the declared pipeline by FastStream.

::

    python -m newsflow.runtime.asyncapi                 # print it (JSON)
    python -m newsflow.runtime.asyncapi --write docs/asyncapi.json
    python -m newsflow.runtime.asyncapi --check docs/asyncapi.json   # exit 1 if it differs
    newsflow asyncapi                                   # the same as the first line

One broker is declared with what every service does (:mod:`newsflow.domain.pipeline`): each
consuming service subscribes to its stream in its consumer group, each stage publishes the
stream it emits, the intake (``newsflow publish``, ``POST /api/articles``, a raw ``XADD``)
publishes submitted URLs, and every consumer writes dead letters. FastStream turns the
subscribers and publishers into AsyncAPI 3.0 (channels, operations, message schemas from the
pydantic contracts). The document is committed at ``docs/asyncapi.json`` (a test keeps it
equal to this output) and served by the reader at ``/asyncapi.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from faststream.redis import RedisBroker, StreamSub
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field

from newsflow.domain.pipeline import CONSUMERS, SERVICES, STAGES, URLS, Streams
from newsflow.settings import Settings

#: Where the document is committed, relative to the repository.
COMMITTED = Path("docs") / "asyncapi.json"
#: The prefix the document names streams with (the default; a deployment may set another).
PREFIX: str = Settings.model_fields["stream_prefix"].default

DESCRIPTION = f"""\
Newsflow's workers pass article messages through Redis Streams. Stream names are
`<NEWSFLOW_STREAM_PREFIX>:<name>`, shown here with the default prefix `{PREFIX}`. Each
entry carries a message as plain stream fields (what `XADD <stream> * field value ...`
writes; numbers and booleans as text), not a JSON body: the schemas below are those of the
fields. Every consuming service reads its stream in a consumer group named after it; run
several replicas and they share the work. A message that keeps failing, or cannot be decoded,
goes to the dead-letter stream. Generated from the declared pipeline
(newsflow/domain/pipeline.py) by `python -m newsflow.runtime.asyncapi`."""


class DeadLetter(BaseModel):
    """An entry of the dead-letter stream (:class:`newsflow.runtime.delivery.DeadLetters`)."""

    stream: str = Field(description="the stream the entry came from")
    stage: str = Field(description="the consumer group (service) that gave up on it")
    entry_id: str = Field(description="the entry's id in its stream")
    fields: str = Field(description="the entry's fields, as a JSON object")
    error: str = Field(description="why it was dead-lettered (credentials masked)")
    deliveries: int = Field(description="how many times it was delivered")
    dead_at: str = Field(description="when, ISO 8601 UTC")
    article_id: str | None = Field(
        default=None, description="the article, when the entry names one"
    )


def build_broker(prefix: str = PREFIX) -> RedisBroker:
    """A broker (never connected) declaring every stream the services read and write."""
    streams = Streams(prefix)
    broker = RedisBroker("redis://redis:6379", apply_types=False)
    for service in CONSUMERS:
        assert service.consumes is not None
        message = service.consumes.message
        subscriber = broker.subscriber(
            stream=StreamSub(
                streams[service.consumes], group=service.name, consumer="<hostname>-<pid>"
            ),
            title=f"{service.name}-reads-{service.consumes.name}",
            description=(
                f"`python -m services.{service.name}` reads `{streams[service.consumes]}` in the "
                f"consumer group `{service.name}` (entries pending longer than "
                f"NEWSFLOW_CLAIM_IDLE_MS are reclaimed by another replica)."
            ),
        )

        async def handler(body: Any) -> None: ...  # documentation only: never run

        handler.__annotations__ = {"body": message, "return": None}
        subscriber(handler)
    broker.publisher(
        stream=streams.urls,
        title=f"intake-writes-{URLS.name}",
        schema=URLS.message,
        description=(
            "Submitted URLs: `newsflow publish`, `POST /api/articles` of the reader, or any "
            f"Redis client (`XADD {streams.urls} * url https://...`). A stage that finds its "
            "article lost by MongoDB submits its URL again here (`submitted_by: recovery:...`)."
        ),
    )
    for service in SERVICES:
        if service.consumes is None:  # a source of URLs (the feeder): it publishes to urls
            broker.publisher(
                stream=streams.urls,
                title=f"{service.name}-writes-{URLS.name}",
                schema=URLS.message,
                description=(
                    f"`python -m services.{service.name}` reads no stream: it submits the URLs "
                    "it finds (new items of the feeds and sitemaps it polls)."
                ),
            )
    for stage in STAGES:
        if stage.emits is None:
            continue
        broker.publisher(
            stream=streams[stage.emits],
            title=f"{stage.name}-writes-{stage.emits.name}",
            schema=stage.emits.message,
            description=(
                f"The {stage.name} stored the article's `{stage.field}` and set its status to "
                f"`{stage.status.value}`; the next stage takes it from here."
            ),
        )
    broker.publisher(
        stream=streams.dead,
        title="any-consumer-writes-dead",
        schema=DeadLetter,
        description=(
            "Dead letters: entries that failed NEWSFLOW_MAX_DELIVERIES times or could not be "
            "decoded, with the reason. `newsflow dead` lists them, `newsflow retry` puts them "
            "back on their stream."
        ),
    )
    return broker


def document(prefix: str = PREFIX) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the pipeline, as a JSON-ready dict."""
    spec = AsyncAPI(
        build_broker(prefix),
        title="Newsflow pipeline",
        version="1",
        description=DESCRIPTION,
        schema_version="3.0.0",
    ).to_specification()
    result: dict[str, Any] = json.loads(spec.to_json())
    # Channels, operations and components in name order: a stable, readable document.
    for section in (result, result.get("components", {})):
        for key in ("channels", "operations", "messages", "schemas"):
            if isinstance(section.get(key), dict):
                section[key] = dict(sorted(section[key].items()))
    return result


def render(prefix: str = PREFIX) -> str:
    """The document as committed: indented JSON, keys in FastStream's order, a final newline."""
    return json.dumps(document(prefix), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The pipeline's AsyncAPI document (JSON).")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="write it to FILE")
    group.add_argument(
        "--check",
        type=Path,
        metavar="FILE",
        help="exit 1 if FILE differs from what the code generates",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text, encoding="utf-8")
        return 0
    if args.check:
        current = args.check.read_text(encoding="utf-8") if args.check.exists() else ""
        if current != text:
            print(
                f"{args.check} is out of date: run python -m newsflow.runtime.asyncapi "
                f"--write {args.check}",
                file=sys.stderr,
            )
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
