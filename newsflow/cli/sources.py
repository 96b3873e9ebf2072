"""``newsflow sources ...``: add, list, pause, resume, remove, import and export sources.

Everything a feed says (titles, errors quoting it) is untrusted: it is escaped before rich
renders it, so a title like ``[link=...]`` prints as text.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.markup import escape

from newsflow.cli import consoles, file_error, first_line, unreachable

if TYPE_CHECKING:
    from newsflow.adapters.sources import SourceStore
    from newsflow.settings import Settings

# The feed modules (feedparser, trafilatura), the MongoDB client and the settings are imported
# by the commands that use them: `newsflow --help` and every other command start faster.

app = typer.Typer(
    help="Sources: feeds and sitemaps that the feeder polls for new articles.",
    no_args_is_help=True,
    add_completion=False,
)
out, err = consoles()
T = TypeVar("T")

Ident = Annotated[
    str, typer.Argument(metavar="SOURCE", help="source id (or its first digits) or URL")
]


def display_name(doc: dict[str, Any]) -> str:
    from newsflow.adapters.sources import display_name as name

    return name(doc)


def _run(make: Callable[[Settings, SourceStore], Awaitable[T]]) -> T:
    from newsflow.adapters.sources import AmbiguousSource, SourceNotFound, SourceStore
    from newsflow.settings import get_settings

    settings = get_settings()

    async def main() -> T:
        store = SourceStore.connect(settings)
        try:
            await store.ensure_indexes()
            return await make(settings, store)
        finally:
            store.close()

    try:
        return asyncio.run(main())
    except (SourceNotFound, AmbiguousSource) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc.args[0]))}")
        raise typer.Exit(2) from None
    except unreachable() as exc:
        err.print(f"[red]error:[/red] cannot reach MongoDB: {escape(first_line(exc))}")
        raise typer.Exit(3) from None


def when(value: Any, now: datetime | None = None) -> str:
    """A time in words relative to now: ``3 min ago``, ``in 2 h``, ``never``."""
    if not isinstance(value, datetime):
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    ahead = seconds < 0
    s = abs(seconds)
    if s < 60:
        text = f"{s:.0f} s"
    elif s < 3600:
        text = f"{s / 60:.0f} min"
    elif s < 86400:
        text = f"{s / 3600:.1f} h"
    else:
        text = f"{s / 86400:.1f} d"
    if ahead:
        return f"in {text}"
    return "now" if s < 1 else f"{text} ago"


def next_poll(value: Any) -> str:
    """``in 12 min``, or ``due`` when the time has come (a feeder takes it next)."""
    shown = when(value)
    return "due" if shown.endswith("ago") or shown == "now" else shown


def health(doc: dict[str, Any]) -> str:
    """One word for a source's state: paused, new, healthy, failing."""
    if doc.get("paused"):
        return "paused"
    if doc.get("consecutive_failures"):
        return "failing"
    if doc.get("last_success") is None:
        return "new"
    return "healthy"


@app.command()
def add(
    url: Annotated[
        str, typer.Argument(help="a feed or sitemap URL, or a site whose feed is found")
    ],
    name: Annotated[
        str | None, typer.Option(help="display name (default: the feed's title)")
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(min=1, help="fixed polling interval, seconds (default: adaptive)"),
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="category hint for its articles, e.g. crypto")
    ] = None,
    language: Annotated[str | None, typer.Option(help="language of its articles, e.g. zh")] = None,
    check: Annotated[
        bool,
        typer.Option(help="fetch it first and find the feed (--no-check adds the URL as it is)"),
    ] = True,
) -> None:
    """Add a source. A site's page is searched for its feed (page head, common paths)."""
    from newsflow.domain.urls import InvalidUrl
    from newsflow.stages.feeds import DiscoveryFailed, discover
    from newsflow.stages.fetching import PageFetcher

    async def go(settings: Settings, store: SourceStore) -> tuple[dict[str, Any], bool, Any]:
        found = None
        target = url
        if check:
            async with PageFetcher(settings) as fetcher:
                found = await discover(fetcher, url)
            target = found.url
        doc, created = await store.add(
            target,
            name=name,
            interval=interval,
            category=category,
            language=language,
            kind=found.feed.kind if found else None,
            title=found.feed.title if found else None,
            added_by="cli",
        )
        return doc, created, found

    try:
        doc, created, found = _run(go)
    except DiscoveryFailed as exc:
        err.print(f"[red]error:[/red] {escape(exc.reason)}")
        raise typer.Exit(1) from None
    except InvalidUrl as exc:
        err.print(f"[red]error:[/red] invalid URL: {escape(str(exc))}")
        raise typer.Exit(1) from None
    shown = escape(display_name(doc))
    if not created:
        out.print(f"[yellow]exists[/yellow]  {doc['short_id']}  {shown}  {escape(doc['url'])}")
        return
    detail = ""
    if found is not None:
        detail = (
            f" ({found.feed.kind}, {len(found.feed.items) or len(found.feed.sitemaps)} entries now)"
        )
    out.print(
        f"[green]added[/green]   {doc['short_id']}  {shown}{escape(detail)}  {escape(doc['url'])}"
    )
    if found is not None and found.others:
        err.print("the page also names: " + escape(", ".join(found.others[:5])))


@app.command("list")
def list_() -> None:
    """Every source and its health: last poll, last success, last error, next poll."""
    from rich.table import Table

    docs = _run(lambda _s, store: store.all())
    table = Table(
        "id",
        "name",
        "kind",
        "state",
        "last poll",
        "last success",
        "last error",
        "failures",
        "items",
        "next poll",
        box=None,
    )
    for d in docs:
        table.add_row(
            d["short_id"],
            escape(display_name(d)[:60]),
            d.get("kind") or "?",
            health(d),
            when(d.get("last_poll")),
            when(d.get("last_success")),
            escape((d.get("last_error") or "")[:120]),
            str(d.get("consecutive_failures") or 0),
            str(d.get("items_seen") or 0),
            "paused" if d.get("paused") else next_poll(d.get("next_poll")),
        )
    if not docs:
        err.print("no sources yet: newsflow sources add URL")
        return
    out.print(table)


def _change(verb: str, action: Callable[[SourceStore], Awaitable[dict[str, Any]]]) -> None:
    doc = _run(lambda _s, store: action(store))
    out.print(f"{verb} {doc['short_id']}  {escape(display_name(doc))}  {escape(doc['url'])}")


@app.command()
def pause(ident: Ident) -> None:
    """Stop polling a source (its state is kept)."""
    _change("paused", lambda store: store.set_paused(ident, True))


@app.command()
def resume(ident: Ident) -> None:
    """Poll a paused source again, starting now."""
    _change("resumed", lambda store: store.set_paused(ident, False))


@app.command()
def remove(ident: Ident) -> None:
    """Remove a source (its articles stay)."""
    _change("removed", lambda store: store.remove(ident))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="an OPML file ('-' reads stdin)")],
    category: Annotated[
        str | None, typer.Option(help="category for sources whose outline has none")
    ] = None,
) -> None:
    """Add every feed of an OPML subscription list (as exported by feed readers)."""
    import sys

    from newsflow.domain.urls import InvalidUrl
    from newsflow.stages.feeds import InvalidOpml, parse_opml

    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot read {escape(str(file))}: {escape(file_error(exc))}")
        raise typer.Exit(1) from None
    try:
        feeds = parse_opml(data)
    except InvalidOpml as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None

    async def go(_settings: Settings, store: SourceStore) -> list[tuple[Any, str, str]]:
        done = []
        for feed in feeds:
            try:
                doc, created = await store.add(
                    feed.url,
                    name=feed.title,
                    category=feed.category or category,
                    added_by="opml",
                )
            except InvalidUrl as exc:
                done.append((feed, "invalid", str(exc)))
                continue
            done.append((feed, "added" if created else "exists", doc["short_id"]))
        return done

    results = _run(go)
    for feed, outcome, detail in results:
        colour = {"added": "green", "exists": "yellow", "invalid": "red"}[outcome]
        out.print(
            f"[{colour}]{outcome:<7}[/{colour}] {escape(detail)}  "
            f"{escape(feed.title or '')}  {escape(feed.url)}"
        )
    counts = {k: sum(1 for _, o, _ in results if o == k) for k in ("added", "exists", "invalid")}
    err.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["invalid"]:
        raise typer.Exit(1)


@app.command()
def export(
    file: Annotated[
        Path | None, typer.Argument(help="where to write the OPML (default: stdout)")
    ] = None,
) -> None:
    """Write every source as an OPML subscription list."""
    from newsflow.stages.feeds import OpmlFeed, to_opml

    docs = _run(lambda _s, store: store.all())
    text = to_opml(OpmlFeed(d["url"], display_name(d), d.get("category")) for d in docs)
    if file is None:
        import sys

        sys.stdout.write(text)
    else:
        try:
            file.write_text(text, encoding="utf-8")
        except OSError as exc:
            err.print(
                f"[red]error:[/red] cannot write {escape(str(file))}: {escape(file_error(exc))}"
            )
            raise typer.Exit(1) from None
        err.print(f"{len(docs)} sources written to {escape(str(file))}")
