"""`newsflow sources ...` as a user runs it (the installed command, configured by NEWSFLOW_*)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from newsflow.settings import Settings
from newsflow.stages.feeds import parse_opml
from tests.support.feeds import FeedServer, Item, Route, render
from tests.support.workers import run_newsflow

pytestmark = pytest.mark.integration

MARKUP_TITLE = "[bold red]Breaking[/bold red] [link=http://evil.example]click[/link]"


def newsflow(
    settings: Settings, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run_newsflow(settings, "sources", *args, stdin=stdin, timeout=120)


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        body, ctype = render(
            "rss20", MARKUP_TITLE, [Item("http://127.0.0.1/n/1", "x", datetime.now(UTC))]
        )
        server.routes["/news/rss"] = Route(body, ctype)
        server.routes["/"] = Route(
            b'<html><head><link rel="alternate" type="application/rss+xml" href="/news/rss">'
            b"</head><body>site</body></html>",
            "text/html",
        )
        yield server


@pytest.fixture
def cli_settings(settings: Settings, feeds: FeedServer) -> Settings:
    return settings.model_copy(update={"fetch_allowed_ports": [feeds.port], "fetch_retries": 0})


def test_add_finds_the_feed_and_list_pause_resume_remove(
    cli_settings: Settings,
    feeds: FeedServer,
    store: object,
) -> None:
    run = newsflow(cli_settings, "add", feeds.url("/"), "--category", "crypto")
    assert run.returncode == 0, run.stderr
    # The feed's title is printed as text, never as markup.
    assert MARKUP_TITLE in run.stdout and "(rss, 1 entries now)" in run.stdout
    assert feeds.url("/news/rss") in run.stdout
    short = run.stdout.split()[1]
    again = newsflow(cli_settings, "add", feeds.url("/news/rss"))
    assert again.returncode == 0 and again.stdout.startswith("exists")

    listed = newsflow(cli_settings, "list")
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.strip().startswith(short))
    assert MARKUP_TITLE[:60] in row and " rss " in row and " new " in row and "never" in row

    assert newsflow(cli_settings, "pause", short).stdout.startswith(f"paused {short}")
    assert " paused " in newsflow(cli_settings, "list").stdout
    assert newsflow(cli_settings, "resume", feeds.url("/news/rss")).stdout.startswith("resumed")
    removed = newsflow(cli_settings, "remove", short)
    assert removed.returncode == 0 and removed.stdout.startswith(f"removed {short}")
    missing = newsflow(cli_settings, "remove", short)
    assert missing.returncode == 2 and f"no source with id {short}" in missing.stderr


def test_add_reports_why_nothing_was_added(
    cli_settings: Settings, feeds: FeedServer, store: object
) -> None:
    feeds.routes["/plain"] = Route(b"<html><body>nothing</body></html>", "text/html")
    del feeds.routes["/news/rss"]
    run = newsflow(cli_settings, "add", feeds.url("/plain"))
    assert run.returncode == 1
    assert "no feed found" in run.stderr and "it names no feed" in run.stderr
    refused = newsflow(cli_settings, "add", "http://169.254.169.254/latest/meta-data/")
    assert refused.returncode == 1 and "refused: port 80 is not allowed" in refused.stderr
    bad = newsflow(cli_settings, "add", "notaurl", "--no-check")
    assert bad.returncode == 1 and "invalid URL" in bad.stderr


def test_opml_import_and_export_round_trip(
    cli_settings: Settings,
    tmp_path: Path,
    store: object,
) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="1.0"><head><title>mine</title></head><body>'
        '<outline text="Crypto">'
        '<outline text="BlockTempo" title="動區 BlockTempo" type="rss" xmlUrl="https://www.blocktempo.com/feed/"/>'
        '<outline text="Decrypt" type="rss" xmlUrl="https://decrypt.co/feed"/></outline>'
        '<outline text="Top" type="rss" xmlUrl="https://example.org/rss.xml" category="/world"/>'
        '<outline text="broken" type="rss" xmlUrl="javascript:alert(1)"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    run = newsflow(cli_settings, "import", str(opml))
    assert run.returncode == 1  # one entry is invalid, and said so
    assert "3 added, 0 exists, 1 invalid" in run.stderr
    assert "動區 BlockTempo" in run.stdout
    again = newsflow(cli_settings, "import", str(opml))
    assert "0 added, 3 exists, 1 invalid" in again.stderr
    exported = newsflow(cli_settings, "export")
    assert exported.returncode == 0, exported.stderr
    feeds = parse_opml(exported.stdout.encode())
    assert [(f.url, f.title, f.category) for f in feeds] == [
        ("https://www.blocktempo.com/feed/", "動區 BlockTempo", "Crypto"),
        ("https://decrypt.co/feed", "Decrypt", "Crypto"),
        ("https://example.org/rss.xml", "Top", "world"),
    ]
    out = tmp_path / "out.opml"
    assert newsflow(cli_settings, "export", str(out)).returncode == 0
    assert parse_opml(out.read_bytes()) == feeds
