"""Script helpers shared by the analysis modules: CJK detection and word counting."""

from __future__ import annotations

import re
import unicodedata

#: Characters counted one by one: Han (with extensions and compatibility ideographs),
#: hiragana and katakana. Hangul is not here: Korean separates words with spaces.
CJK_CHARS = (
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u309f\u30a1-\u30fa\u30fc-\u30ff\u31f0-\u31ff"
    "\U00020000-\U0003134f"
)
CJK_RE = re.compile(f"[{CJK_CHARS}]")
_ALNUM_RE = re.compile(r"[^\W_]")


def normalize(text: str) -> str:
    """NFKC: full-width Latin and digits become ASCII, half-width katakana full-width."""
    return unicodedata.normalize("NFKC", text)


def cjk_share(text: str) -> float:
    """Share of CJK characters among the letters and digits of ``text`` (0.0 when empty)."""
    letters = len(_ALNUM_RE.findall(text))
    if letters == 0:
        return 0.0
    return len(CJK_RE.findall(text)) / letters


def word_count(text: str, language: str | None = None) -> int:
    """Words in ``text``: each CJK character counts as one word, other text by spaces.

    Chinese and Japanese are written without spaces, so a space count would call a
    2,000-character article a few dozen words; counting characters is the usual measure.
    Mixed text counts its CJK characters plus its other words (``英伟达 Q3 earnings`` is
    3 + 2). A token counts as a word only if it holds a letter or a digit, so dashes and
    stray punctuation do not. The decision is made per character, which is right for mixed
    text whatever its label; ``language`` is accepted for callers that have it and is not
    needed.
    """
    del language  # the script of each character decides, see above
    text = normalize(text)
    cjk = len(CJK_RE.findall(text))
    rest = CJK_RE.sub(" ", text)
    return cjk + sum(1 for token in rest.split() if _ALNUM_RE.search(token))
