"""Find the asset symbols an article is about, from tickers and from names.

What counts (the table is :data:`newsflow.analysis.assets.ASSETS`):

* cashtags: ``$BTC``, ``$nvda``, and any upper-case ``$XYZ`` (2-6 letters) even if not in
  the table, except currency codes (``$USD``): a cashtag is written on purpose;
* exchange patterns: ``(NASDAQ: NVDA)``, ``NYSE:TSLA``, ``(Nasdaq: AAPL)``, any ticker;
* Reuters instrument codes: ``NVDA.O``, ``AAPL.OQ``, ``BABA.N``;
* trading pairs of table crypto assets: ``BTCUSDT``, ``ETHUSD``;
* names in English (``Bitcoin``, ``Nvidia``) and in Chinese, simplified and traditional
  (``比特币``/``比特幣``, ``英伟达``/``英偉達``/``輝達``);
* a ticker written alone in upper case (``BTC``, ``NVDA``), only for table entries marked
  ``bare``: tickers that are English words or common acronyms (``ONE``, ``IT``, ``NOW``,
  ``ALL``, ``A``, ``DOT``, ``LINK``, ``META``, ``V``) need ``$X`` or an exchange pattern.

Ambiguous names (``Apple``, ``Amazon``, ``Meta``, ``Oracle``, ``Visa``, ``Alphabet``,
``苹果``, ``亚马逊``, ``甲骨文``) must be capitalised as written in the table and count only
with company context: a corporate word right after the name (``Apple Inc``, ``Apple's
shares``, ``Amazon stock``, ``苹果公司``, ``蘋果股價``; see ``COMPANY_FOLLOWERS``), or one
of the asset's clues anywhere in the article (``iPhone``, ``Tim Cook`` for Apple; ``AWS``
for Amazon), or the ticker itself. "Apple pie" and "the Amazon rainforest" stay out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from newsflow.analysis._text import normalize
from newsflow.analysis.assets import (
    ASSETS,
    COMPANY_FOLLOWERS,
    COMPANY_FOLLOWERS_ZH,
    CURRENCIES,
    Asset,
)

#: Most symbols kept per article (the impact contract accepts 20).
MAX_SYMBOLS = 20

# ASCII word boundaries: Python's \b treats CJK characters as word characters, so "在BTC上"
# would hide the ticker.
_B = r"(?<![A-Za-z0-9_])"
_E = r"(?![A-Za-z0-9_])"
_EXCHANGES = (
    r"NASDAQ|Nasdaq|NYSE\s?American|NYSE\s?Arca|NYSEARCA|NYSE|AMEX|OTCQX|OTCQB|OTC|TSX|LSE|"
    r"HKEX|SEHK"
)


def _alternation(words: Iterable[str]) -> str:
    # Longest first: at one position the regex takes the first alternative that matches,
    # so "Bitcoin Cash" must be tried before "Bitcoin".
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _is_cjk(word: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in word)


@dataclass(frozen=True)
class _Matcher:
    pattern: re.Pattern[str]
    #: lower-cased Latin name, or Chinese name as is -> symbol
    names: dict[str, str]
    context: dict[str, list[str]]  # ambiguous name -> the symbols it may mean
    clues: dict[str, re.Pattern[str]]  # symbol -> its clue pattern
    followers: re.Pattern[str]
    followers_zh: re.Pattern[str]


@cache
def _matcher() -> _Matcher:
    names: dict[str, str] = {}
    latin_names: list[str] = []
    cased_names: list[str] = []
    zh_names: list[str] = []
    context: dict[str, list[str]] = {}
    clues: dict[str, re.Pattern[str]] = {}
    bare: list[str] = []
    crypto: list[str] = []
    for symbol, asset in ASSETS.items():
        for name in asset.get("names", []):
            names[name.lower()] = symbol
            latin_names.append(name)
        for name in asset.get("cased", []):
            names[name] = symbol
            cased_names.append(name)
        for name in asset.get("zh", []):
            names[name] = symbol
            zh_names.append(name)
        for name in asset.get("context", []):
            context.setdefault(name, []).append(symbol)
        if asset.get("clues"):
            clues[symbol] = _clue_pattern(asset)
        if asset.get("bare"):
            bare.append(symbol)
        if asset.get("kind") == "crypto":
            crypto.append(symbol)
    ctx_latin = [n for n in context if not _is_cjk(n)]
    ctx_zh = [n for n in context if _is_cjk(n)]
    pattern = re.compile(
        rf"(?<![\w$])\$(?P<cash>[A-Za-z]{{1,6}}(?:\.[A-Za-z])?){_E}"
        rf"|{_B}(?:{_EXCHANGES})\s*:\s*(?P<exch>[A-Z]{{1,6}}(?:\.[A-Z])?){_E}"
        rf"|(?<![A-Za-z0-9_.])(?P<ric>[A-Z]{{2,6}})\.(?:OQ|O|N){_E}"
        rf"|{_B}(?P<pair>{_alternation(crypto)})(?=(?:USDT|USDC|USD){_E})"
        rf"|{_B}(?P<name>(?i:{_alternation(latin_names)})){_E}"
        rf"|{_B}(?P<cased>{_alternation(cased_names)}){_E}"
        rf"|(?P<zh>{_alternation(zh_names)})"
        rf"|{_B}(?P<ctx>{_alternation(ctx_latin)}){_E}"
        rf"|(?P<ctxzh>{_alternation(ctx_zh)})"
        rf"|(?<![A-Za-z0-9_$.])(?P<bare>{_alternation(bare)}){_E}"
    )
    followers = re.compile(rf"(?:['’]s)?\s+(?i:{_alternation(COMPANY_FOLLOWERS)}){_E}")
    followers_zh = re.compile(rf"\s*(?:{_alternation(COMPANY_FOLLOWERS_ZH)})")
    return _Matcher(pattern, names, context, clues, followers, followers_zh)


def _clue_pattern(asset: Asset) -> re.Pattern[str]:
    latin = [c for c in asset.get("clues", []) if not _is_cjk(c)]
    zh = [c for c in asset.get("clues", []) if _is_cjk(c)]
    parts = []
    if latin:
        parts.append(rf"{_B}(?i:{_alternation(latin)}){_E}")
    if zh:
        parts.append(_alternation(zh))
    return re.compile("|".join(parts))


def extract_symbols(texts: Sequence[str | None]) -> list[str]:
    """The asset symbols named in ``texts`` (title, body, original title...), most mentioned
    first (ties: first mentioned first), at most :data:`MAX_SYMBOLS`."""
    m = _matcher()
    parts = [normalize(t) for t in texts if t]
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    pending: list[tuple[int, str, list[str]]] = []  # ambiguous names, decided at the end
    offset = 0
    for text in parts:
        for match in m.pattern.finditer(text):
            position = offset + match.start()
            kind = match.lastgroup
            value = match.group(kind or 0)
            symbol: str | None = None
            if kind == "cash":
                symbol = _cashtag(value)
            elif kind in ("exch", "ric", "pair", "bare"):
                symbol = value
            elif kind == "name":
                symbol = m.names[value.lower()]
            elif kind in ("cased", "zh"):
                symbol = m.names[value]
            elif kind in ("ctx", "ctxzh"):
                follow = m.followers_zh if kind == "ctxzh" else m.followers
                candidates = m.context[value]
                if follow.match(text, match.end()):
                    symbol = candidates[0]
                else:
                    pending.append((position, value, candidates))
            if symbol is not None:
                counts[symbol] += 1
                first.setdefault(symbol, position)
        offset += len(text) + 1
    # An ambiguous name without a corporate word after it counts when the article shows
    # the company otherwise: a clue (iPhone, AWS) or its ticker found above.
    whole = "\n".join(parts)
    for position, _name, candidates in pending:
        for symbol in candidates:
            clue = m.clues.get(symbol)
            if symbol in counts or (clue is not None and clue.search(whole)):
                counts[symbol] += 1
                first.setdefault(symbol, position)
                break
    ranked = sorted(counts, key=lambda s: (-counts[s], first[s]))
    return ranked[:MAX_SYMBOLS]


def _cashtag(value: str) -> str | None:
    symbol = value.upper()
    if symbol in ASSETS:
        return symbol
    # Unknown cashtags are kept when written in capitals and not a currency: "$PEPE" yes,
    # "$usd" and "$USD" no.
    if value == symbol and symbol not in CURRENCIES and len(symbol.replace(".", "")) >= 1:
        return symbol
    return None
