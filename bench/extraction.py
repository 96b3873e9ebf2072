"""Benchmark of the extraction stage against raw trafilatura and readability-lxml.

Reads the two corpora of ``../shared/corpus`` (never copied into the repository), decodes
each page with :func:`newsflow.stages.decoding.decode_html` as the worker does, and scores the
extracted text the ScrapingHub way: bags of word 4-gram shingles, precision and recall per
page averaged over pages, F1 of the two averages. Chinese is scored with each character as
a token. Every method runs on the same decoded pages in the same run; pages/s is measured on
one core.

Importing the stage swaps readability-lxml's HTML cleaner for one without the
``javascript:``-link rewriting (same text, a third faster), so the readability row runs with
it too.

    .venv/bin/python bench/extraction.py [--limit N] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import trafilatura
from readability import Document

from newsflow.stages.decoding import decode_html
from newsflow.stages.extraction import extract_page
from newsflow.stages.extraction._text import summary_text

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"

_WORD = re.compile(r"\w+")
#: A Han character alone, or a run of other word characters (Latin words, numbers).
_CJK_CHAR = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)


@dataclass
class Page:
    id: str
    url: str | None
    html: str
    truth: str


def load_scrapinghub(corpus: Path, limit: int | None) -> list[Page]:
    """The ScrapingHub article-extraction benchmark: gzip'd pages, ``ground-truth.json``."""
    folder = corpus / "scrapinghub"
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth)[:limit]:
        raw = gzip.decompress((folder / "html" / f"{page_id}.html.gz").read_bytes())
        html, _ = decode_html(raw)
        pages.append(
            Page(page_id, truth[page_id].get("url"), html, truth[page_id].get("articleBody") or "")
        )
    return pages


def load_zh(corpus: Path, limit: int | None) -> list[Page]:
    """The CWCED Chinese set: raw page bytes (mostly GB2312/GBK) and ``truth/<id>.txt``."""
    folder = corpus / "zh_cwced"
    pages = []
    for path in sorted((folder / "html").glob("*.html"))[:limit]:
        html, _ = decode_html(path.read_bytes())
        truth = (folder / "truth" / f"{path.stem}.txt").read_text(encoding="utf-8")
        pages.append(Page(path.stem, None, html, truth))
    return pages


def tokens(text: str, by_char: bool) -> list[str]:
    """Words (``\\w+``); for Chinese every Han character is a token of its own."""
    return (_CJK_CHAR if by_char else _WORD).findall(text or "")


def shingles(text: str, by_char: bool, n: int = 4) -> Counter[str]:
    """Bag of n-gram shingles (a text shorter than n is one shingle, as in the original)."""
    toks = tokens(text, by_char)
    return Counter(
        " ".join(toks[i : i + n]) for i in range(max(1, len(toks) - n + 1)) if toks[i : i + n]
    )


def score_page(pred: str, truth: str, by_char: bool) -> tuple[float, float]:
    """Precision and recall of one page's shingles."""
    p, t = shingles(pred, by_char), shingles(truth, by_char)
    tp = sum((p & t).values())
    precision = tp / sum(p.values()) if p else 0.0
    recall = tp / sum(t.values()) if t else 0.0
    if not p and not t:
        precision = recall = 1.0
    return precision, recall


def readability_text(html: str, url: str | None) -> str:
    """readability-lxml as a plain user of it runs it: given the page as a string (and its
    URL), which it parses itself; the stage hands it the tree it parsed once for both
    extractors. That is the one difference on purpose: the summary is made text by the
    stage's own function."""
    return summary_text(Document(html, url=url).summary(html_partial=True))


#: Statuses the stage gave in the current set (every corpus page is an article).
STATUSES: Counter[str] = Counter()


def stage_text(html: str, url: str | None) -> str:
    """The stored text of our stage, whatever its status (teasers keep their text too)."""
    result = extract_page(html, url)
    STATUSES[result.status] += 1
    return result.text or ""


METHODS: dict[str, Callable[[str, str | None], str]] = {
    "newsflow stage (extract_page)": stage_text,
    "trafilatura default": lambda h, u: trafilatura.extract(h, url=u) or "",
    "trafilatura include_comments=False": lambda h, u: (
        trafilatura.extract(h, url=u, include_comments=False) or ""
    ),
    "readability-lxml": readability_text,
}


@dataclass
class Row:
    method: str
    precision: float
    recall: float
    pages_per_s: float

    @property
    def f1(self) -> float:
        s = self.precision + self.recall
        return 2 * self.precision * self.recall / s if s else 0.0


def run(
    pages: list[Page], by_char: bool, method: Callable[[str, str | None], str]
) -> tuple[float, list[tuple[float, float]]]:
    """Run one method on every page: CPU seconds spent in it, and per-page scores."""
    per_page: list[tuple[float, float]] = []
    elapsed = 0.0
    for page in pages:
        start = time.process_time()
        try:
            text = method(page.html, page.url)
        except Exception:  # noqa: BLE001 -- a crash of a baseline counts as an empty page
            text = ""
        elapsed += time.process_time() - start
        per_page.append(score_page(text, page.truth, by_char))
    return elapsed, per_page


def measure(pages: list[Page], by_char: bool, rounds: int) -> dict[str, Row]:
    """Every method over every page, ``rounds`` times in turn; speed from the median round.

    The methods alternate within each round, so a drift in the machine's load or a cold
    cache touches them alike; the median round discards a round that was disturbed.
    """
    times: dict[str, list[float]] = {name: [] for name in METHODS}
    scores: dict[str, list[tuple[float, float]]] = {}
    for _ in range(rounds):
        for name, method in METHODS.items():
            elapsed, per_page = run(pages, by_char, method)
            times[name].append(elapsed)
            scores.setdefault(name, per_page)  # the methods are deterministic
    n = max(len(pages), 1)
    rows = {}
    for name, per_page in scores.items():
        elapsed = statistics.median(times[name])
        rows[name] = Row(
            name,
            sum(p for p, _ in per_page) / n,
            sum(r for _, r in per_page) / n,
            len(pages) / elapsed if elapsed else 0.0,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="pages per set")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="timing rounds; pages/s from the median round (default 3)",
    )
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    sets = {
        "scrapinghub": (load_scrapinghub(args.corpus, args.limit), False),
        "zh_cwced": (load_zh(args.corpus, args.limit), True),
    }
    # Warm up once per set: model loading and imports are not part of a page's cost.
    for pages, _ in sets.values():
        for method in METHODS.values():
            method(pages[0].html, pages[0].url)
    STATUSES.clear()
    table: dict[str, dict[str, Row]] = {}
    for set_name, (pages, by_char) in sets.items():
        print(f"\n{set_name}: {len(pages)} pages", flush=True)
        STATUSES.clear()
        for name, row in measure(pages, by_char, args.rounds).items():
            table.setdefault(name, {})[set_name] = row
            print(
                f"  {name:38s} P {row.precision:.3f}  R {row.recall:.3f}  "
                f"F1 {row.f1:.3f}  {row.pages_per_s:6.1f} pages/s",
                flush=True,
            )
        statuses = {k: v // args.rounds for k, v in STATUSES.items()}
        print(f"  stage statuses: {statuses}", flush=True)
        stage = table["newsflow stage (extract_page)"][set_name]
        raw = table["trafilatura default"][set_name]
        print(f"  speed ratio stage / raw trafilatura: {stage.pages_per_s / raw.pages_per_s:.2f}")

    names = list(sets)
    print("\n| method | " + " | ".join(f"{s} P / R / F1 | {s} pages/s" for s in names) + " |")
    print("|---|" + "---|---|" * len(names))
    for name, rows in table.items():
        cells = []
        for s in names:
            r = rows[s]
            cells.append(
                f"{r.precision:.3f} / {r.recall:.3f} / **{r.f1:.3f}**"
                if name.startswith("newsflow")
                else f"{r.precision:.3f} / {r.recall:.3f} / {r.f1:.3f}"
            )
            cells.append(f"{r.pages_per_s:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        f"\n{', '.join(f'{s}: {len(sets[s][0])} pages' for s in names)}; "
        "ScrapingHub shingle metric (4-grams; each Han character a token for Chinese); "
        f"pages/s in CPU time of one process, median of {args.rounds} rounds."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
