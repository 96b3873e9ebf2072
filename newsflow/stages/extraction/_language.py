"""Language and script of a text: CJK by character classes, the rest by py3langid.

Counting Han, kana and Hangul characters settles Chinese, Japanese and Korean at once (any
kana means Japanese, the Han share means Chinese); hanzidentifier tells simplified from
traditional Chinese. py3langid (a small bundled model, no download) handles the other
languages. Both look at a sample of the text: a few thousand characters decide.
"""

from __future__ import annotations

import re
from functools import lru_cache

import hanzidentifier

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")

#: Characters of text looked at.
SAMPLE = 3_000


@lru_cache(maxsize=1)
def _identifier() -> object:
    # Loading the model takes ~0.3 s: once per process, on first use.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def is_cjk(text: str) -> bool:
    """Whether a text is mostly Chinese, Japanese or Korean characters."""
    sample = text[:SAMPLE]
    letters = len(_LETTER.findall(sample))
    cjk = len(_HAN.findall(sample)) + len(_KANA.findall(sample)) + len(_HANGUL.findall(sample))
    return letters > 0 and cjk > 0.3 * letters


def detect_language(text: str, declared: str | None = None) -> tuple[str | None, str | None]:
    """``(language, script)`` of ``text``; ``declared`` (the page's ``lang``) breaks ties.

    ``script`` is ``Hans`` or ``Hant`` for Chinese, ``Jpan`` and ``Kore`` for Japanese and
    Korean, otherwise ``None``.
    """
    sample = text[:SAMPLE]
    letters = len(_LETTER.findall(sample))
    if letters < 20:
        return (_primary(declared), None)
    han = len(_HAN.findall(sample))
    kana = len(_KANA.findall(sample))
    hangul = len(_HANGUL.findall(sample))
    if kana > 0.05 * letters:
        return ("ja", "Jpan")
    if hangul > 0.3 * letters:
        return ("ko", "Kore")
    if han > 0.3 * letters:
        return ("zh", _chinese_script(sample, declared))
    # A thousand characters settle a language; the model's cost grows with the sample.
    lang, prob = _identifier().classify(sample[:1000])  # type: ignore[attr-defined]
    declared_primary = _primary(declared)
    if prob < 0.5 and declared_primary:
        return (declared_primary, None)
    return (str(lang), None)


def _chinese_script(sample: str, declared: str | None) -> str | None:
    kind = hanzidentifier.identify(sample)
    if kind == hanzidentifier.SIMPLIFIED:
        return "Hans"
    if kind == hanzidentifier.TRADITIONAL:
        return "Hant"
    # BOTH or MIXED: count characters that exist in one script only.
    simp = sum(
        1
        for ch in set(sample)
        if hanzidentifier.is_simplified(ch) and not hanzidentifier.is_traditional(ch)
    )
    trad = sum(
        1
        for ch in set(sample)
        if hanzidentifier.is_traditional(ch) and not hanzidentifier.is_simplified(ch)
    )
    if simp != trad:
        return "Hans" if simp > trad else "Hant"
    tag = (declared or "").lower()
    if any(t in tag for t in ("hant", "tw", "hk", "mo")):
        return "Hant"
    if any(t in tag for t in ("hans", "cn", "sg")):
        return "Hans"
    return None


def _primary(tag: str | None) -> str | None:
    if not tag:
        return None
    primary = re.split(r"[-_]", tag.strip().lower(), maxsplit=1)[0]
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def count_words(text: str) -> int:
    """Words of ``text``, CJK characters counted one each (those scripts use no spaces)."""
    cjk = len(_HAN.findall(text)) + len(_KANA.findall(text))
    if not cjk:
        return len(text.split())
    # Words of the non-CJK rest (Latin names, numbers) plus one per CJK character; Hangul
    # separates words with spaces, so it counts by words.
    rest = _KANA.sub(" ", _HAN.sub(" ", text))
    return cjk + len(rest.split())
