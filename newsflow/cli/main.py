"""The ``newsflow`` command: run the embedded system, publish URLs, read results."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from newsflow.adapters.intake import Submission
from newsflow.adapters.store import AmbiguousId, ArticleNotFound, ArticleStore
from newsflow.cli.alerts import app as alerts_app
from newsflow.cli.render import totals_lines
from newsflow.domain.article import Article
from newsflow.domain.pipeline import Streams
from newsflow.domain.usage import PURPOSES
from newsflow.runtime.deferred import requeue_deferred
from newsflow.runtime.delivery import DeadLetters
from newsflow.settings import Settings, get_settings

app = typer.Typer(
    help="Newsflow: fetch, extract, translate and analyze news articles.",
    no_args_is_help=True, add_completion=False,
)
app.add_typer(alerts_app, name="alerts")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _run(make: Callable[[Settings, Redis, ArticleStore], Awaitable[T]]) -> T:
    settings = get_settings()

    async def main() -> T:
        redis = Redis.from_url(settings.redis_url)
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
    except (ConnectionError, OSError) as exc:
        err.print(f"[red]error:[/red] cannot reach Redis or MongoDB: {escape(str(exc))}")
        raise typer.Exit(3) from None


def _read_urls(urls: list[str], file: Path | None) -> list[str]:
    collected = [u for u in urls if u != "-"]
    if "-" in urls:
        collected += [line.strip() for line in sys.stdin if line.strip()]
    if file is not None:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        collected += [
            line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
    return collected


@app.command()
def publish(
    urls: Annotated[list[str] | None, typer.Argument(help="URLs to process; '-' reads stdin")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="a file of URLs, one a line ('-': stdin)")] = None,
    refresh: Annotated[bool, typer.Option(help="process again URLs that are known already")] = False,
) -> None:
    """Queue article URLs. Known URLs are reported as duplicates, not queued again."""
    from newsflow.adapters.intake import submit

    todo = _read_urls(list(urls or []), file)
    if not todo:
        err.print("[red]error:[/red] no URLs given (arguments, --file FILE or '-' for stdin)")
        raise typer.Exit(2)

    async def go(settings: Settings, redis: Redis, store: ArticleStore) -> list[Submission]:
        streams = Streams(settings.stream_prefix)
        results: list[Submission] = []
        batch = 200
        with Progress(console=err, transient=True, disable=len(todo) < 20) as progress:
            task = progress.add_task("publishing", total=len(todo))
            for i in range(0, len(todo), batch):
                part = todo[i : i + batch]
                results += await submit(
                    part, redis=redis, store=store, streams=streams, refresh=refresh,
                    submitted_by="cli",
                )
                progress.advance(task, len(part))
        return results

    results = _run(go)
    # URLs and reasons are what people typed: printed as text, never read as rich markup.
    for r in results:
        if r.outcome == "invalid":
            err.print(f"[red]invalid[/red]    {escape(r.url)}: {escape(str(r.detail))}")
        elif r.outcome == "duplicate":
            out.print(f"[yellow]duplicate[/yellow]  {r.short_id}  {escape(r.url)} "
                      f"({escape(str(r.detail))})")
        else:
            out.print(f"[green]{r.outcome:<10}[/green] {r.short_id}  {escape(r.url)}")
    counts = {k: sum(1 for r in results if r.outcome == k) for k in ("queued", "refreshed", "duplicate", "invalid")}
    err.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["invalid"]:
        raise typer.Exit(1)


@app.command()
def show(
    ident: Annotated[str, typer.Argument(metavar="ID", help="article id or its short form")],
    as_json: Annotated[bool, typer.Option("--json", help="the whole document as JSON")] = False,
) -> None:
    """Show one article as a person reads it (or the stored document with --json)."""
    article = _run(lambda s, r, store: store.get(ident))
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
    articles: list[Article] = _run(lambda s, r, store: store.latest(limit, status))
    table = Table("id", "status", "source", "title", "symbols", box=None)
    for a in articles:
        title = a.title if a.failure_text is None else f"{a.title}  [{a.failure_text}]"
        # Every cell comes from a page or a submitter: Text, so rich never reads it as markup.
        table.add_row(
            *(Text(v) for v in (a.short_id, a.status.value, a.site, title[:100], ",".join(a.symbols)))
        )
    out.print(table)


@app.command()
def status() -> None:
    """Each stream: length, pending, consumers; processed, failed and dead-letter counts."""

    async def go(
        settings: Settings, redis: Redis, store: ArticleStore
    ) -> tuple[list[tuple[str, str, int, int, int, dict[str, int]]], int, dict[str, int]]:
        streams = Streams(settings.stream_prefix)
        stats = {k.decode(): int(v) for k, v in (await redis.hgetall(streams.stats)).items()}
        rows = []
        for group, stream in streams.inputs().items():
            length = await redis.xlen(stream)
            pending = consumers = 0
            with contextlib.suppress(ResponseError):  # no such stream yet: nothing to show
                for g in await redis.xinfo_groups(stream):
                    if (g["name"].decode() if isinstance(g["name"], bytes) else g["name"]) == group:
                        pending, consumers = int(g["pending"]), int(g["consumers"])
            rows.append((group, stream, length, pending, consumers, stats))
        dead = await redis.xlen(streams.dead)
        return rows, dead, await store.status_counts(), await store.ledger.totals()

    rows, dead, counts, usage = _run(go)
    table = Table("service", "stream", "length", "pending", "consumers", "processed", "failed", "dead", box=None)
    for group, stream, length, pending, consumers, stats in rows:
        table.add_row(*(Text(str(v)) for v in (
            group, stream, length, pending, consumers, stats.get(f"processed:{group}", 0),
            stats.get(f"failed:{group}", 0), stats.get(f"dead:{group}", 0),
        )))
    out.print(table)
    out.print(f"dead-letter stream: {dead} entries")
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
    out.print(Text(f"articles: {summary}"))
    out.print(Text("LLM usage today (UTC; cost from NEWSFLOW_LLM_PRICES):"))
    for line in totals_lines(usage):
        out.print(Text(line))


@app.command()
def dead(limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List the dead-letter stream: what failed, where, and why."""

    async def go(
        settings: Settings, redis: Redis, store: ArticleStore
    ) -> list[tuple[str, dict[str, str]]]:
        return await DeadLetters(redis, Streams(settings.stream_prefix)).list(limit)

    for dead_id, e in _run(go):
        out.print(f"{dead_id}  {e['stage']:<10} deliveries={e['deliveries']}  {e['fields']}\n    {e['error']}", markup=False)


@app.command()
def retry(
    entries: Annotated[list[str] | None, typer.Argument(help="dead-letter entry ids (default: all)")] = None,
    deferred: Annotated[bool, typer.Option(
        "--deferred", help="instead, requeue the articles whose translation or impact analysis "
        "a spent daily budget deferred",
    )] = False,
    limit: Annotated[int, typer.Option(min=1, help="most deferred articles per purpose")] = 1000,
) -> None:
    """Requeue dead letters onto the streams they came from (after a fix)."""
    if deferred:
        _retry_deferred(limit)
        return

    async def go(settings: Settings, redis: Redis, store: ArticleStore) -> list[tuple[str, str]]:
        return await DeadLetters(redis, Streams(settings.stream_prefix)).requeue(entries or None)

    done = _run(go)
    for dead_id, new_id in done:
        out.print(Text(f"requeued {dead_id} as {new_id}"))
    err.print(f"{len(done)} requeued")


def _retry_deferred(limit: int) -> None:
    async def go(settings: Settings, redis: Redis, store: ArticleStore) -> list[tuple[str, int, bool]]:
        done = []
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
            err.print(f"warning: today's {purpose} budget is still spent: they will be deferred again")


@app.command()
def healthcheck(max_age: Annotated[float, typer.Option(help="seconds")] = 30.0) -> None:
    """Exit 0 while this container's worker heartbeat is fresh (for health checks)."""
    path = Path(get_settings().heartbeat_file)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        err.print(Text(f"unhealthy: no heartbeat at {path}"))
        raise typer.Exit(1) from None
    if age > max_age:
        err.print(f"unhealthy: last heartbeat {age:.0f} s ago")
        raise typer.Exit(1)
    out.print(f"healthy: last heartbeat {age:.1f} s ago")


@app.command()
def up(
    reader: Annotated[bool, typer.Option(help="also serve the reader")] = True,
) -> None:
    """Run the whole system here: Redis, SecantusDB, the workers, the feeder, the notifier and the reader."""
    from newsflow.cli.embedded import run_system

    raise typer.Exit(run_system(get_settings(), reader=reader))


from newsflow.cli.sources import app as sources_app  # the `sources` sub-commands

app.add_typer(sources_app, name="sources")

from newsflow.cli.similar import app as similar_app  # the `similar` sub-commands

app.add_typer(similar_app, name="similar")


def main() -> None:
    app()
