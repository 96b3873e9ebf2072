"""Find the asset symbols an article is about, from tickers and from names.

What counts (the table is :data:`newsflow.stages.analysis.assets.ASSETS`):

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
from typing import NamedTuple

from newsflow.stages.analysis._text import normalize
from newsflow.stages.analysis.assets import (
    ASSETS,
    COMPANY_FOLLOWERS,
    COMPANY_FOLLOWERS_ZH,
    CURRENCIES,
    ZH_GUARDS,
    Asset,
)

#: Most symbols kept per article (the impact contract accepts 20).
MAX_SYMBOLS = 20

# Text is cut into ASCII tokens once and the tokens are looked up in dictionaries: one big
# regex alternation of every name and ticker took seconds on a long article.
_TOKEN = re.compile(r"\$?[A-Za-z][A-Za-z0-9]*(?:[.'’][A-Za-z0-9]+)*")
_POSSESSIVE = re.compile(r"['’]s$")
_EXCHANGES = frozenset(
    {
        "NASDAQ",
        "Nasdaq",
        "NYSE",
        "NYSEARCA",
        "AMEX",
        "OTC",
        "OTCQX",
        "OTCQB",
        "TSX",
        "LSE",
        "HKEX",
        "SEHK",
    }
)
_EXCHANGE_SUFFIXES = frozenset({"American", "Arca"})  # "NYSE American: X"
_EXCHANGE_TICKER = re.compile(r"[A-Z]{1,6}(?:\.[A-Z])?")
_RIC = re.compile(r"([A-Z]{2,6})\.(?:OQ|O|N)")
_PAIR_QUOTES = ("USDT", "USDC", "USD")
_MAX_NAME_TOKENS = 3
_ASCII_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


class _Token(NamedTuple):
    text: str  # possessive removed
    lower: str
    start: int
    end: int


def _alternation(words: Iterable[str]) -> str:
    # Longest first: at one position the regex takes the first alternative that matches,
    # so 比特币现金 must be tried before 比特币.
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def _is_cjk(word: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in word)


def _name_key(name: str) -> tuple[str, ...]:
    return tuple(m.group() for m in _TOKEN.finditer(name))


@dataclass(frozen=True)
class _Tables:
    names: dict[tuple[str, ...], str]  # lower-cased token tuple -> symbol
    cased: dict[tuple[str, ...], str]  # exact token tuple -> symbol
    context: dict[str, list[str]]  # ambiguous name (Latin or Chinese) -> symbols
    bare: frozenset[str]
    #: first words of names, lower-cased: any other token is no name (a quick reject)
    first_words: frozenset[str]
    crypto: frozenset[str]
    zh: dict[str, str]  # Chinese name -> symbol
    zh_pattern: re.Pattern[str]  # Chinese names and ambiguous Chinese names
    clues: dict[str, re.Pattern[str]]  # symbol -> its clue pattern
    followers: frozenset[tuple[str, ...]]
    followers_zh: re.Pattern[str]


@cache
def _tables() -> _Tables:
    names: dict[tuple[str, ...], str] = {}
    cased: dict[tuple[str, ...], str] = {}
    zh: dict[str, str] = {}
    context: dict[str, list[str]] = {}
    clues: dict[str, re.Pattern[str]] = {}
    for symbol, asset in ASSETS.items():
        for name in asset.get("names", []):
            names[_name_key(name.lower())] = symbol
        for name in asset.get("cased", []):
            cased[_name_key(name)] = symbol
        for name in asset.get("zh", []):
            zh[name] = symbol
        for name in asset.get("context", []):
            context.setdefault(name, []).append(symbol)
        if asset.get("clues"):
            clues[symbol] = _clue_pattern(asset)
    zh_words = [*zh, *(n for n in context if _is_cjk(n))]
    return _Tables(
        names=names,
        cased=cased,
        context=context,
        bare=frozenset(s for s, a in ASSETS.items() if a.get("bare")),
        first_words=frozenset(
            [k[0] for k in names] + [k[0].lower() for k in cased] + [n.lower() for n in context]
        ),
        crypto=frozenset(s for s, a in ASSETS.items() if a.get("kind") == "crypto"),
        zh=zh,
        # An alternation of plain literals: the regex engine skips ahead on first characters.
        zh_pattern=re.compile(_alternation(zh_words)),
        clues=clues,
        followers=frozenset(_name_key(f.lower()) for f in COMPANY_FOLLOWERS),
        # Possessive, and never started inside a run of spaces: linear on any text.
        followers_zh=re.compile(rf"(?!(?<=\s)\s)\s*+(?:{_alternation(COMPANY_FOLLOWERS_ZH)})"),
    )


def _clue_pattern(asset: Asset) -> re.Pattern[str]:
    latin = [c for c in asset.get("clues", []) if not _is_cjk(c)]
    zh = [c for c in asset.get("clues", []) if _is_cjk(c)]
    parts = []
    if latin:
        parts.append(rf"(?<![A-Za-z0-9_])(?i:{_alternation(latin)})(?![A-Za-z0-9_])")
    if zh:
        parts.append(_alternation(zh))
    return re.compile("|".join(parts))


class _Found:
    """Mentions per symbol, the first mention, and ambiguous names decided at the end."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, int] = {}
        self.pending: list[tuple[int, list[str]]] = []

    def add(self, symbol: str, position: int) -> None:
        self.counts[symbol] += 1
        self.first.setdefault(symbol, position)


def extract_symbols(texts: Sequence[str | None]) -> list[str]:
    """The asset symbols named in ``texts`` (title, body, original title...), most mentioned
    first (ties: first mentioned first), at most :data:`MAX_SYMBOLS`."""
    tables = _tables()
    parts = [normalize(t) for t in texts if t]
    found = _Found()
    offset = 0
    for text in parts:
        _scan_latin(text, offset, tables, found)
        _scan_chinese(text, offset, tables, found)
        offset += len(text) + 1
    # An ambiguous name without a corporate word after it counts when the article shows
    # the company otherwise: a clue (iPhone, AWS) or its ticker found above.
    whole = "\n".join(parts)
    has_clue: dict[str, bool] = {}
    for position, candidates in found.pending:
        for symbol in candidates:
            if symbol not in has_clue:
                clue = tables.clues.get(symbol)
                has_clue[symbol] = clue is not None and clue.search(whole) is not None
            if symbol in found.counts or has_clue[symbol]:
                found.add(symbol, position)
                break
    ranked = sorted(found.counts, key=lambda s: (-found.counts[s], found.first[s]))
    return ranked[:MAX_SYMBOLS]


def _scan_latin(text: str, offset: int, tables: _Tables, found: _Found) -> None:
    tokens = []
    for m in _TOKEN.finditer(text):
        word = _POSSESSIVE.sub("", m.group())
        tokens.append(_Token(word, word.lower(), m.start(), m.end()))
    i = 0
    while i < len(tokens):
        token = tokens[i]
        before = text[token.start - 1] if token.start else " "
        step = 1
        symbol: str | None = None
        if before in _ASCII_ALNUM:  # "3NVDA": not a token boundary
            pass
        elif token.text.startswith("$"):
            symbol = _cashtag(token.text[1:]) if before != "$" else None
        elif token.text in _EXCHANGES:
            symbol, step = _exchange_ticker(text, tokens, i)
        elif (ric := _RIC.fullmatch(token.text)) is not None:
            symbol = ric.group(1)
        elif (pair := _pair(token.text, tables)) is not None:
            symbol = pair
        else:
            symbol, step = _name(text, tokens, i, tables, found, offset)
            if symbol is None and step == 1 and before not in "$." and token.text in tables.bare:
                symbol = token.text
        if symbol is not None:
            found.add(symbol, offset + token.start)
        i += step


def _adjacent(text: str, left: _Token, right: _Token) -> bool:
    """Two tokens of one name: separated by a space ("Bitcoin Cash"), or by ". " after an
    abbreviation ("J.P. Morgan")."""
    gap = text[left.end : right.start]
    return gap == " " or (gap == ". " and "." in left.text)


def _name(
    text: str, tokens: list[_Token], i: int, tables: _Tables, found: _Found, offset: int
) -> tuple[str | None, int]:
    """A (possibly multi-word) name at token ``i``: (symbol, tokens consumed)."""
    if tokens[i].lower not in tables.first_words:
        return None, 1
    run = [tokens[i]]
    for j in range(i + 1, min(i + _MAX_NAME_TOKENS, len(tokens))):
        if not _adjacent(text, run[-1], tokens[j]):
            break
        run.append(tokens[j])
    for n in range(len(run), 0, -1):  # longest name first: "Bitcoin Cash" before "Bitcoin"
        words = run[:n]
        symbol = tables.names.get(tuple(t.lower for t in words)) or tables.cased.get(
            tuple(t.text for t in words)
        )
        if symbol is not None:
            return symbol, n
    candidates = tables.context.get(tokens[i].text)
    if candidates is not None:
        if _followed_by_company_word(text, tokens, i, tables):
            return candidates[0], 1
        found.pending.append((offset + tokens[i].start, candidates))
    return None, 1


def _followed_by_company_word(text: str, tokens: list[_Token], i: int, tables: _Tables) -> bool:
    following: list[str] = []
    for j in range(i + 1, min(i + 3, len(tokens))):
        if not text[tokens[j - 1].end : tokens[j].start].isspace():
            break
        following.append(tokens[j].lower)
        if tuple(following) in tables.followers:
            return True
    return False


def _exchange_ticker(text: str, tokens: list[_Token], i: int) -> tuple[str | None, int]:
    """``NASDAQ: NVDA``, ``NYSE American: X``: (ticker, tokens consumed)."""
    j = i + 1
    if j < len(tokens) and tokens[j].text in _EXCHANGE_SUFFIXES:
        j += 1
    if j < len(tokens):
        gap = text[tokens[j - 1].end : tokens[j].start]
        if (
            gap.strip() == ":"  # a colon between spaces, as ``\s*:\s*$`` (quadratic) said
            and _EXCHANGE_TICKER.fullmatch(tokens[j].text)
        ):
            return tokens[j].text, j - i + 1
    return None, 1


def _pair(word: str, tables: _Tables) -> str | None:
    """``BTCUSDT`` -> ``BTC`` for table crypto assets."""
    if len(word) < 5 or not word.isupper():
        return None
    for quote in _PAIR_QUOTES:
        if word.endswith(quote) and word[: -len(quote)] in tables.crypto:
            return word[: -len(quote)]
    return None


def _scan_chinese(text: str, offset: int, tables: _Tables, found: _Found) -> None:
    for m in tables.zh_pattern.finditer(text):
        word = m.group()
        if m.start() and text[m.start() - 1] in ZH_GUARDS.get(word, ""):
            continue
        symbol = tables.zh.get(word)
        if symbol is not None:
            found.add(symbol, offset + m.start())
            continue
        candidates = tables.context[word]
        if tables.followers_zh.match(text, m.end()):
            found.add(candidates[0], offset + m.start())
        else:
            found.pending.append((offset + m.start(), candidates))


def _cashtag(value: str) -> str | None:
    symbol = value.upper()
    if symbol in ASSETS:
        return symbol
    # Unknown cashtags are kept when written in capitals and not a currency: "$PEPE" yes,
    # "$usd" and "$USD" no.
    if value == symbol and symbol not in CURRENCIES and "'" not in symbol:
        return symbol
    return None
