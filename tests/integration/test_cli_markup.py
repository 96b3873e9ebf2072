"""The ``newsflow`` command prints what pages and people wrote as text, never as rich markup.

Titles, sources, failure reasons, symbols and URLs come from pages and submitters. Printed as
rich markup, a title holding ``[/]`` made every ``newsflow list`` crash while that article was
among the latest, and ``[link=...]`` printed a clickable terminal link. The real command runs
here as a process against the session's Redis and SecantusDB, with a terminal forced
(``FORCE_COLOR``) so that markup and links would be rendered if they were parsed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest

from newsflow.adapters.store import ArticleStore
from newsflow.settings import Settings
from tests.integration.test_reader_api import article

pytestmark = pytest.mark.integration

LINK = "[link=https://evil.example/steal]click me[/link]"
HOSTILE_TITLES = ["Closing [/] everything", LINK, "[bold red]Alarm[/bold red] [/bold]"]


def newsflow(
    settings: Settings, *args: str, columns: str | None = "250"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NEWSFLOW_REDIS_URL": settings.redis_url,
        "NEWSFLOW_MONGO_URL": settings.mongo_url,
        "NEWSFLOW_MONGO_DB": settings.mongo_db,
        "NEWSFLOW_STREAM_PREFIX": settings.stream_prefix,
        "FORCE_COLOR": "1",
    }
    if columns is not None:
        env["COLUMNS"] = columns
    else:
        env.pop("COLUMNS", None)
    code = "import sys; from newsflow.cli.main import main; sys.argv[0] = 'newsflow'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_literal(output: str, *texts: str) -> None:
    assert "\x1b]8;" not in output, "a terminal link was printed"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)  # colours (rich's highlighting) aside
    for text in texts:
        assert text in plain, f"{text!r} not printed as it is in:\n{plain}"


async def test_list_prints_titles_sources_reasons_and_symbols_as_text(
    settings: Settings, store: ArticleStore
) -> None:
    docs: list[dict[str, Any]] = []
    for i, title in enumerate(HOSTILE_TITLES):
        doc = article(f"https://a{i}.example/x", title=title, symbols=["[/]", "BTC"])
        doc["source"] = "[/]source"
        docs.append(doc)
    failed = article("https://b.example/y", status="failed", title="[red]t")
    failed["failure"] = {"stage": "fetched", "reason": "refused: [/] [link=x]y[/link]"}
    docs.append(failed)
    await store.import_documents(docs)
    done = newsflow(settings, "list")
    assert done.returncode == 0, done.stderr
    assert_literal(
        done.stdout,
        "Closing [/] everything",
        "[/]source",
        "[/],BTC",
        "[bold red]Alarm[/bold red] [/bold]",
        "[link=x]y[/link]",
    )
    assert "[link=https://evil.example/steal]" in done.stdout


async def test_publish_and_errors_print_urls_and_reasons_as_text(
    settings: Settings, store: ArticleStore
) -> None:
    done = newsflow(settings, "publish", "https://a.example/[/]page", "ftp://[bold]x")
    assert done.returncode == 1, done.stderr  # one invalid URL
    assert_literal(done.stdout + done.stderr, "https://a.example/[/]page", "ftp://[bold]x")
    again = newsflow(settings, "publish", "https://a.example/[/]page")
    assert again.returncode == 0, again.stderr
    assert_literal(again.stdout, "https://a.example/[/]page")  # reported as a duplicate
    missing = newsflow(settings, "show", "[/]")
    assert missing.returncode == 2, missing.stderr
    assert_literal(missing.stderr, "'[/]' is not an article id")


async def test_bad_files_and_values_get_one_error_line(
    settings: Settings, store: ArticleStore, tmp_path: Any
) -> None:
    # Before: a missing or non-UTF-8 file printed a traceback, and `list --status bogus` an
    # empty table with exit 0 (new-user review).
    missing = newsflow(settings, "publish", "--file", str(tmp_path / "nope.txt"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert_literal(missing.stderr, "cannot read", "nope.txt: No such file or directory")
    latin = tmp_path / "urls.txt"
    latin.write_bytes(b"https://a.example/caf\xe9\n")
    bad = newsflow(settings, "publish", "--file", str(latin))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert_literal(bad.stderr, "not UTF-8 text")
    for args in (["sources", "import", str(tmp_path / "no.opml")],
                 ["sources", "export", str(tmp_path / "no-dir" / "x.opml")]):  # fmt: skip
        done = newsflow(settings, *args)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert_literal(done.stderr, "No such file or directory")
    status = newsflow(settings, "list", "--status", "bogus")
    assert status.returncode == 2
    assert_literal(status.stderr, "no status 'bogus'", "queued, fetched")


def test_stdin_skips_comments_and_blank_lines_like_a_file(monkeypatch: Any) -> None:
    import io

    from newsflow.cli.main import _read_urls

    listing = "# my list\n\nhttps://a.example/1\n  # indented\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(listing))
    assert _read_urls(["-"], None) == ["https://a.example/1"]


async def test_piped_output_keeps_whole_rows(settings: Settings, store: ArticleStore) -> None:
    # Piped (no terminal, no COLUMNS), rich cut the table at 80 columns: "consume..." ids and
    # reasons (new-user review). Now a pipe gets whole rows.
    failed = article("https://b.example/a-long-address-of-a-page/that-failed", status="failed")
    failed["failure"] = {"stage": "fetched", "reason": "HTTP 404 Not Found, after 3 attempts"}
    await store.import_documents([failed])
    done = newsflow(settings, "list", columns=None)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if failed["_id"][:10] in line)
    assert len(row.strip()) > 80  # one line, not cut or wrapped at 80 columns
    assert "[failed at fetch: HTTP 404 Not Found, after 3 attempts]" in row


def test_servers_that_do_not_answer_get_one_error_line(settings: Settings) -> None:
    # Before: redis's and pymongo's connection errors are not OSErrors: a traceback.
    no_redis = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    done = newsflow(no_redis, "publish", "https://a.example/x")
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    assert_literal(done.stderr, "error: cannot reach Redis or MongoDB: Error 111")


async def test_a_very_long_url_is_reported_cut(settings: Settings, store: ArticleStore) -> None:
    # rich's line handling grows with the square of a line: a 200,000-character URL took
    # minutes to report (outside review). It is refused and printed cut, with its length.
    url = "https://a.example/" + "a" * 20_000
    done = newsflow(settings, "publish", url)
    assert done.returncode == 1
    assert_literal(done.stderr, "... (20,018 characters): URL longer than 8192 characters")
