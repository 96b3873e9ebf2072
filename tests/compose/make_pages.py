"""Write simple news-article HTML pages for the compose smoke test (standard library only).

    python3 tests/compose/make_pages.py DIR COUNT [PARAGRAPHS]

Pages are ``DIR/a001.html``...: a headline, a byline, a date and PARAGRAPHS paragraphs of
English sentences inside ``<article>``, plus navigation and footer boilerplate for the
extractor to drop. The text is generated from a fixed seed, so every run serves the same pages.
"""

from __future__ import annotations

import html
import random
import sys
from pathlib import Path

SUBJECTS = [
    "The city council",
    "A regional bank",
    "The port authority",
    "Local farmers",
    "The central bank",
    "A software company",
    "The transport ministry",
    "Hospital staff",
    "The energy regulator",
    "Small retailers",
    "The university",
    "Shipping firms",
]
VERBS = [
    "announced",
    "postponed",
    "criticised",
    "approved",
    "reviewed",
    "expanded",
    "questioned",
    "funded",
    "delayed",
    "welcomed",
    "proposed",
    "rejected",
]
OBJECTS = [
    "a new budget for road repairs",
    "plans for a second container terminal",
    "the proposed rise in interest rates",
    "a pilot programme for electric buses",
    "the merger of two grain cooperatives",
    "higher tariffs on imported steel",
    "a study of river pollution",
    "longer opening hours for clinics",
    "the sale of a state-owned utility",
    "new rules for short-term rentals",
]
TAILS = [
    "after months of debate.",
    "citing rising costs.",
    "despite strong opposition.",
    "according to people familiar with the matter.",
    "in a statement on Tuesday.",
    "as inflation eased in the third quarter.",
    "following a public consultation.",
    "which analysts expect to lift exports.",
    "to the surprise of investors.",
]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}"


def page(number: int, paragraphs: int) -> str:
    """One article page; its text depends only on ``number`` and ``paragraphs``."""
    rng = random.Random(number)
    title = f"Smoke test article {number}: {sentence(rng)[:-1]}"
    # Long pages get one sentence per paragraph: many elements (slow to extract, which is what
    # the smoke test wants of them) in a body that stays well below the fetcher's size cap.
    per_paragraph = 4 if paragraphs <= 100 else 1
    body = "\n".join(
        f"    <p>{html.escape(' '.join(sentence(rng) for _ in range(per_paragraph)))}</p>"
        for _ in range(paragraphs)
    )
    day = 1 + number % 28
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{html.escape(title)} - Compose Gazette</title>
  <meta property="og:title" content="{html.escape(title)}">
  <meta name="author" content="Staff Reporter">
  <meta property="article:published_time" content="2026-10-{day:02d}T08:00:00Z">
</head>
<body>
  <nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/business">Business</a></nav>
  <article>
    <h1>{html.escape(title)}</h1>
    <p class="byline">By Staff Reporter, <time datetime="2026-10-{day:02d}">October {day}, 2026</time></p>
{body}
  </article>
  <footer>Copyright 2026 Compose Gazette. All rights reserved. Subscribe to our newsletter.</footer>
</body>
</html>
"""


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    target = Path(argv[1])
    count = int(argv[2])
    paragraphs = int(argv[3]) if len(argv) == 4 else 12
    target.mkdir(parents=True, exist_ok=True)
    for number in range(1, count + 1):
        (target / f"a{number:03d}.html").write_text(page(number, paragraphs), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
