"""The ``newsflow`` command: run the embedded system, publish URLs, read results.

Starting fast matters (``newsflow --help``, ``newsflow publish`` in scripts and health checks):
this module imports only typer and rich's console at the top. Everything heavy (the Redis and
MongoDB clients, the stored article's pydantic models, FastStream, rich's tables and progress
bars) is imported inside the command that needs it. ``bench/cli.py`` measures it.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.markup import escape

from newsflow.cli import consoles, file_error, first_line, unreachable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from newsflow.adapters.intake import Submission
    from newsflow.adapters.store import ArticleStore
    from newsflow.domain.article import Article
    from newsflow.domain.usage import UsageTotals
    from newsflow.settings import Settings

app = typer.Typer(
    help="Newsflow: fetch, extract, translate and analyze news articles.",
    no_args_is_help=True,
    add_completion=False,
)
out, err = consoles()
T = TypeVar("T")


def _run(make: Callable[[Settings, Redis, ArticleStore], Awaitable[T]]) -> T:
    import asyncio

    from newsflow.adapters.redis import connect_redis
    from newsflow.adapters.store import AmbiguousId, ArticleNotFound, ArticleStore
    from newsflow.settings import get_settings

    settings = get_settings()

    async def main() -> T:
        redis = connect_redis(settings)
        store = ArticleStore.connect(settings)
        try:
            return await make(settings, redis, store)
        finally:
            store.close()
            await redis.aclose()

    try:
        return asyncio.run(main())
    except (ArticleNotFound, AmbiguousId) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc.args[0]))}")
        raise typer.Exit(2) from None
    except unreachable() as exc:
        err.print(f"[red]error:[/red] cannot reach Redis or MongoDB: {escape(first_line(exc))}")
        raise typer.Exit(3) from None


def _url_lines(text: str) -> list[str]:
    """One URL a line; blank lines and ``#`` comments skipped (a file and stdin alike)."""
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _read_urls(urls: list[str], file: Path | None) -> list[str]:
    collected = [u for u in urls if u != "-"]
    if "-" in urls:
        collected += _url_lines(sys.stdin.read())
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            err.print(
                f"[red]error:[/red] cannot read {escape(str(file))}: {escape(file_error(exc))}"
            )
            raise typer.Exit(2) from None
        collected += _url_lines(text)
    return collected


#: URLs longer than this are printed cut, with their length: rich's line handling takes time
#: growing with the square of a line's length (a 200,000-character line took minutes).
SHOWN_URL_CHARS = 300


def _shown(url: str) -> str:
    if len(url) <= SHOWN_URL_CHARS:
        return url
    return f"{url[:SHOWN_URL_CHARS]}... ({len(url):,} characters)"


#: A replica reads its stream at least this often (ms) while it runs.
ACTIVE_IDLE_MS = 60_000


async def _replicas(redis: Redis, stream: str, group: str) -> int:
    """The group's consumers seen in the last minute, each process once (its ``-reclaim``
    name is the same process): the names of stopped or killed replicas stay in the group
    until a worker prunes them, and are not counted."""
    names = set()
    for c in await redis.xinfo_consumers(stream, group):
        name = c["name"].decode() if isinstance(c["name"], bytes) else str(c["name"])
        if int(c["idle"]) < ACTIVE_IDLE_MS:
            names.add(name.removesuffix("-reclaim"))
    return len(names)


@app.command()
def publish(
    urls: Annotated[
        list[str] | None, typer.Argument(help="URLs to process; '-' reads stdin")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="a file of URLs, one a line ('-': stdin)")
    ] = None,
    refresh: Annotated[
        bool, typer.Option(help="process again URLs that are known already")
    ] = False,
) -> None:
    """Queue article URLs. Known URLs are reported as duplicates, not queued again."""
    from newsflow.adapters.intake import submit
    from newsflow.domain.pipeline import Streams

    todo = _read_urls(list(urls or []), file)
    if not todo:
        err.print("[red]error:[/red] no URLs given (arguments, --file FILE or '-' for stdin)")
        raise typer.Exit(2)

    async def go(settings: Settings, redis: Redis, store: ArticleStore) -> list[Submission]:
        streams = Streams(settings.stream_prefix)
        results: list[Submission] = []
        batch = 200
        if len(todo) < 20:  # no progress bar: rich.progress is not even imported
            return await submit(
                todo,
                redis=redis,
                store=store,
                streams=streams,
                refresh=refresh,
                submitted_by="cli",
            )
        from rich.progress import Progress

        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("publishing", total=len(todo))
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                results += await submit(
                    part,
                    redis=redis,
                    store=store,
                    streams=streams,
                    refresh=refresh,
                    submitted_by="cli",
                )
                progress.advance(task, len(part))
        return results

    results = _run(go)
    # URLs and reasons are what people typed: printed as text, never read as rich markup.
    for r in results:
        url = escape(_shown(r.url))
        if r.outcome == "invalid":
            err.print(f"[red]invalid[/red]    {url}: {escape(str(r.detail))}")
        elif r.outcome == "duplicate":
            out.print(f"[yellow]duplicate[/yellow]  {r.short_id}  {url} ({escape(str(r.detail))})")
        else:
            out.print(f"[green]{r.outcome:<10}[/green] {r.short_id}  {url}")
    counts = {
        k: sum(1 for r in results if r.outcome == k)
        for k in ("queued", "refreshed", "duplicate", "invalid")
    }
    err.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["invalid"]:
        raise typer.Exit(1)


@app.command()
def show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="article id or its short form")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole document as JSON")] = False,
) -> None:
    """Show one article as a person reads it (or the stored document with --json)."""
    import json

    article = _run(lambda _s, _r, store: store.get(ident))
    if as_json:
        out.print_json(json.dumps(article.document(), default=str, ensure_ascii=False))
        return
    from newsflow.cli.render import article_text

    out.print(article_text(article), markup=False, highlight=False)


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="only articles with this status")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
) -> None:
    """The latest articles with their status."""
    from rich.table import Table
    from rich.text import Text

    from newsflow.domain.contracts import Status

    if status is not None and status not in {s.value for s in Status}:
        err.print(
            f"[red]error:[/red] no status {escape(status)!r}: one of "
            + ", ".join(s.value for s in Status)
        )
        raise typer.Exit(2)
    articles: list[Article] = _run(lambda _s, _r, store: store.latest(limit, status))
    table = Table("id", "status", "source", "title", "symbols", box=None)
    for a in articles:
        # The title cut at 100 characters, the failure reason whole (it is short).
        title = a.title[:100] + ("" if a.failure_text is None else f"  [{a.failure_text}]")
        # Every cell comes from a page or a submitter: Text, so rich never reads it as markup.
        table.add_row(
            *(Text(v) for v in (a.short_id, a.status.value, a.site, title, ",".join(a.symbols)))
        )
    out.print(table)


@app.command()
def status() -> None:
    """Each stream: length, pending, replicas (consumers seen in the last minute); processed
    (deliveries handled), failed, dead-letter and reconciled counts (articles a sweep drove on
    after a crash lost their message)."""
    import contextlib

    from redis.exceptions import ResponseError
    from rich.table import Table
    from rich.text import Text

    from newsflow.domain.pipeline import Streams

    async def go(
        settings: Settings, redis: Redis, store: ArticleStore
    ) -> tuple[
        list[tuple[str, str, int, int, int, dict[str, int]]], int, dict[str, int], list[UsageTotals]
    ]:
        streams = Streams(settings.stream_prefix)
        stats = {_text(k): int(v) for k, v in (await redis.hgetall(streams.stats)).items()}
        rows = []
        for group, stream in streams.inputs().items():
            length = await redis.xlen(stream)
            pending = consumers = 0
            with contextlib.suppress(ResponseError):  # no such stream yet: nothing to show
                for g in await redis.xinfo_groups(stream):
                    if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) == group:
                        pending = int(g["pending"])
                        consumers = await _replicas(redis, stream, group)
            rows.append((group, stream, length, pending, consumers, stats))
        dead = await redis.xlen(streams.dead)
        leftovers.extend(await _old_streams(redis, settings.stream_prefix))
        return rows, dead, await store.status_counts(), await store.ledger.totals()

    leftovers: list[str] = []
    rows, dead, counts, usage = _run(go)
    table = Table(
        "service",
        "stream",
        "length",
        "pending",
        "replicas",
        "processed",
        "failed",
        "dead",
        "reconciled",
        box=None,
    )
    for group, stream, length, pending, consumers, stats in rows:
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    group,
                    stream,
                    length,
                    pending,
                    consumers,
                    stats.get(f"processed:{group}", 0),
                    stats.get(f"failed:{group}", 0),
                    stats.get(f"dead:{group}", 0),
                    stats.get(f"reconciled:{group}", 0),
                )
            )
        )
    out.print(table)
    out.print(f"dead-letter stream: {dead} entries")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    out.print(Text(f"articles: {summary}"))
    out.print(Text("LLM usage today (UTC; cost from NEWSFLOW_LLM_PRICES):"))
    from newsflow.cli.render import totals_lines

    for line in totals_lines(usage):
        out.print(Text(line))
    if leftovers:
        err.print(
            Text(
                "warning: streams of the old prefix 'newsflow' (before the {newsflow} hash tag) "
                f"still hold entries: {', '.join(leftovers)}. Set NEWSFLOW_STREAM_PREFIX=newsflow "
                "until they are drained, or see the README (Redis Cluster: upgrading)."
            )
        )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def _old_streams(redis: Redis, prefix: str) -> list[str]:
    """Streams of the pre-0.2 default prefix ``newsflow`` that still hold entries, when the
    deployment now uses the default ``{newsflow}`` (what an upgrade leaves behind)."""
    from newsflow.domain.pipeline import Streams

    if prefix != "{newsflow}":
        return []
    old = Streams("newsflow")
    lengths = {s: int(await redis.xlen(s)) for s in [*old.inputs().values(), old.dead]}
    return [f"{stream} ({n})" for stream, n in lengths.items() if n]


@app.command()
def dead(limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List the dead-letter stream: what failed, where, and why."""
    from newsflow.domain.pipeline import Streams
    from newsflow.runtime.delivery import DeadLetters

    async def go(
        settings: Settings, redis: Redis, _store: ArticleStore
    ) -> list[tuple[str, dict[str, str]]]:
        return await DeadLetters(redis, Streams(settings.stream_prefix)).list(limit)

    entries = _run(go)
    if not entries:
        err.print("no dead letters")
    for dead_id, e in entries:
        out.print(
            f"{dead_id}  {e['stage']:<10} deliveries={e['deliveries']}  {e['fields']}\n    {e['error']}",
            markup=False,
        )


@app.command()
def retry(
    entries: Annotated[
        list[str] | None, typer.Argument(help="dead-letter entry ids (default: all)")
    ] = None,
    deferred: Annotated[
        bool,
        typer.Option(
            "--deferred",
            help="instead, requeue the articles whose translation or impact analysis "
            "a spent daily budget deferred",
        ),
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="most deferred articles per purpose")] = 1000,
) -> None:
    """Requeue dead letters onto the streams they came from (after a fix)."""
    if deferred:
        _retry_deferred(limit)
        return
    from rich.text import Text

    from newsflow.domain.pipeline import Streams
    from newsflow.runtime.delivery import DeadLetters, Requeued

    async def go(settings: Settings, redis: Redis, _store: ArticleStore) -> Requeued:
        return await DeadLetters(redis, Streams(settings.stream_prefix)).requeue(entries or None)

    done, kept = _run(go)
    for dead_id, new_id in done:
        out.print(Text(f"requeued {dead_id} as {new_id}"))
    err.print(f"{len(done)} requeued")
    for dead_id in kept:
        err.print(Text(f"kept {dead_id}: its stored fields cannot be read (see newsflow dead)"))


def _retry_deferred(limit: int) -> None:
    from newsflow.domain.pipeline import Streams
    from newsflow.domain.usage import PURPOSES
    from newsflow.runtime.deferred import requeue_deferred

    async def go(
        settings: Settings, redis: Redis, store: ArticleStore
    ) -> list[tuple[str, int, bool]]:
        done: list[tuple[str, int, bool]] = []
        for purpose in PURPOSES:
            count = await requeue_deferred(
                store, redis, Streams(settings.stream_prefix), purpose, limit,
                stuck_after=2 * settings.claim_idle_ms / 1000,
            )  # fmt: skip
            done.append((purpose, count, await store.ledger.has_room(purpose)))
        return done

    for purpose, count, room in _run(go):
        out.print(f"requeued {count} articles whose {purpose} was deferred")
        if count and not room:
            err.print(
                f"warning: today's {purpose} budget is still spent: they will be deferred again"
            )


@app.command()
def reconcile(
    after: Annotated[
        float | None,
        typer.Option(help="seconds without an update (default: NEWSFLOW_RECONCILE_AFTER)"),
    ] = None,
) -> None:
    """Sweep every stage once now for stranded articles and drive them on (the workers do
    this every NEWSFLOW_RECONCILE_INTERVAL seconds on their own)."""
    from newsflow.domain.pipeline import STAGES
    from newsflow.runtime.reconcile import Sweep, sweep

    async def go(settings: Settings, redis: Redis, store: ArticleStore) -> list[Sweep]:
        if after is not None:
            settings = settings.model_copy(update={"reconcile_after": after})
        return [await sweep(s, redis=redis, store=store, settings=settings) for s in STAGES]

    for done in _run(go):
        state = (
            "another replica is sweeping it"
            if done.locked_out
            else "busy (backlog over the scan cap): not swept"
            if done.busy
            else f"{done.stale} stale, {done.waiting} with a message waiting, "
            f"{len(done.republished)} driven on"
        )
        out.print(f"{done.stage:<11} {done.status.value:<11} {state}", markup=False)


@app.command()
def healthcheck(
    max_age: Annotated[float, typer.Option(help="seconds")] = 30.0,
    file: Annotated[
        Path | None,
        typer.Option(
            help="the heartbeat file (default: NEWSFLOW_HEARTBEAT_FILE; `make up` "
            "writes .data/<worker>.heartbeat)"
        ),
    ] = None,
) -> None:
    """Exit 0 while a worker's heartbeat is fresh (a container's health check).

    The worker touches it only while both Redis and MongoDB answer."""
    import time

    from rich.text import Text

    from newsflow.settings import get_settings

    path = file or Path(get_settings().heartbeat_file)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        err.print(Text(f"unhealthy: no heartbeat at {path}"))
        raise typer.Exit(1) from None
    if age > max_age:
        err.print(Text(f"unhealthy: last heartbeat {age:.0f} s ago ({path})"))
        raise typer.Exit(1)
    out.print(Text(f"healthy: last heartbeat {age:.1f} s ago ({path})"))


@app.command()
def up(
    reader: Annotated[bool, typer.Option(help="also serve the reader")] = True,
) -> None:
    """Run the whole system here: Redis, SecantusDB, the workers, the feeder, the notifier and the reader."""
    from newsflow.cli.embedded import run_system
    from newsflow.settings import get_settings

    raise typer.Exit(run_system(get_settings(), reader=reader))


@app.command()
def asyncapi() -> None:
    """Print the pipeline's AsyncAPI document (streams, messages, consumers, producers)."""
    from newsflow.runtime.asyncapi import render

    sys.stdout.write(render())


from newsflow.cli.sources import app as sources_app  # noqa: E402 - the `sources` sub-commands

app.add_typer(sources_app, name="sources")
from newsflow.cli.alerts import app as alerts_app  # noqa: E402 - the `alerts` sub-commands

app.add_typer(alerts_app, name="alerts")

from newsflow.cli.similar import app as similar_app  # noqa: E402 - the `similar` sub-commands

app.add_typer(similar_app, name="similar")


def main() -> None:
    app()
