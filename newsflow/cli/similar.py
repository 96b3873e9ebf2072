"""``newsflow similar``: bring similar events up to date for articles analyzed before them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # heavy imports happen in the command (``newsflow --help`` stays fast)
    from newsflow.adapters.store import ArticleStore
    from newsflow.settings import Settings

app = typer.Typer(help="Historical similar events.", no_args_is_help=True)


async def refresh(settings: Settings, store: ArticleStore, limit: int, batch: int = 200) -> int:
    """Index the analyzed articles that never were, oldest first, and store their new
    lists (with the evidence); articles after them in time are offered each as it is
    indexed. Returns how many were refreshed."""
    from newsflow.adapters.embeddings import embeddings_client
    from newsflow.adapters.similar_events import SimilarEvents

    embedder = embeddings_client(settings)
    finder = SimilarEvents(store.similar, settings, embedder=embedder)
    done = 0
    try:
        while done < limit:
            articles = await store.similar.unindexed(min(batch, limit - done))
            if not articles:
                break
            for article in articles:
                similar = await finder.find(
                    article, symbols=article.symbols, keywords=article.keywords
                )
                await store.similar.replace_list(article.id, similar)
                done += 1
    finally:
        if embedder is not None:
            await embedder.aclose()
    return done


async def rebuild(settings: Settings, store: ArticleStore, limit: int) -> tuple[int, int]:
    """Forget the term statistics and postings, then index every analyzed article again
    (:func:`refresh`). Returns (articles unset, articles refreshed)."""
    unset = await store.similar.reset()
    return unset, await refresh(settings, store, limit)


@app.command("refresh")
def refresh_command(
    limit: Annotated[int, typer.Option(min=1, help="most articles to refresh")] = 100_000,
    rebuild_all: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="first forget every article's indexing and the term statistics, then index "
            "them all again (after an upgrade that changed how terms are kept)",
        ),
    ] = False,
) -> None:
    """Index articles analyzed before the current similar events (or never indexed) and
    replace their lists; run once after an upgrade."""
    from newsflow.cli.main import _run, out

    if rebuild_all:
        unset, count = _run(lambda settings, _redis, store: rebuild(settings, store, limit))
        out.print(f"forgot the indexing of {unset} articles; ", end="")
    else:
        count = _run(lambda settings, _redis, store: refresh(settings, store, limit))
    out.print(f"refreshed the similar events of {count} articles")
