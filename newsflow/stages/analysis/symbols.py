"""Find the assets an article is about: tickers, names in three scripts, context, salience.

The tables are :mod:`newsflow.stages.analysis.assets`. What counts:

* **Explicit forms**, always: cashtags (``$BTC``, ``$nvda``; an unknown upper-case ``$XYZ`` too,
  except currencies), exchange-qualified tickers (``NASDAQ:NVDA``, ``(NYSE: BABA)``,
  ``HKEX: 700``), codes with a market suffix (``2330.TW``, ``0700.HK``, ``600519.SH``/``.SS``,
  ``7203.T``, ``005930.KS``; Reuters ``NVDA.O``, ``BABA.N``, ``.DJI``), crypto trading pairs of
  known assets (``BTCUSDT``, ``ETH/USD``).
* **Names** in English, simplified and traditional Chinese (``Nvidia``, ``英伟达``, ``輝達``),
  found with one Aho-Corasick automaton over the lower-cased text (pyahocorasick), English ones
  on word boundaries. A name that is an ordinary word or another thing's name (``Apple``,
  ``Amazon``, ``Ford``, ``Facebook``, ``苹果``, ``Cosmos``) counts only as written and only with
  confirming context: a corporate word right after it (``Apple Inc``, ``Apple's shares``,
  ``苹果公司``), company words in the same sentence (shares, CEO, earnings...), or the same asset
  found by an unambiguous form elsewhere in the article.
* **Bare upper-case tickers** (``NVDA``, ``BTC``) count alone when they are distinctive (three
  letters or more, neither an English word nor a common abbreviation); others (``SOL``, ``LINK``,
  ``ONE``, ``IT``, ``NOW``, ``CAT``, ``HD``) only with a price, a percentage, a market word or
  another ticker right next to them, and never in an all-capitals line (a shouted headline).
* **Never**: page chrome (share and follow lines, "Follow us on ..."), a company named as a
  medium or a shop ("on Facebook", "available on Amazon") unless a corporate word follows, and
  Chinese names inside longer words (北京东单 is not 京东).

**Salience**: each asset records where it was found (``title``, ``lead`` — the first paragraph
of the text, ``body``) and how often; its salience is 3 for the title + 2 for the lead + one per
mention (at most 5) + 1 when written as a ticker or code. The stored list is ordered by salience.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import ahocorasick

from newsflow.stages.analysis._text import normalize
from newsflow.stages.analysis.assets import AssetTable, Kind, load_table

Zone = Literal["title", "lead", "body"]
ZONES: tuple[Zone, ...] = ("title", "lead", "body")

#: Most symbols kept per article (the impact contract accepts 20).
MAX_SYMBOLS = 20
#: The lead: the text up to the first paragraph break after this many characters ...
LEAD_MIN_CHARS = 200
#: ... and never more than this many.
LEAD_MAX_CHARS = 600
ZONE_WEIGHT: dict[Zone, int] = {"title": 3, "lead": 2, "body": 0}
MAX_COUNTED_MENTIONS = 5

CURRENCIES = frozenset(
    [
        "USD", "EUR", "GBP", "JPY", "CNY", "CNH", "RMB", "HKD", "TWD", "AUD", "CAD", "CHF",
        "SGD", "KRW", "INR", "US", "HK", "NT",
    ]
)
_EXCHANGES = {
    "NASDAQ": "US", "Nasdaq": "US", "NYSE": "US", "NYSEARCA": "US", "NYSE American": "US",
    "NYSE Arca": "US", "AMEX": "US", "OTC": "US", "OTCQX": "US", "OTCQB": "US", "BATS": "US",
    "HKEX": "HK", "SEHK": "HK", "HKG": "HK", "TPE": "TW", "TWSE": "TW", "SHA": "SS", "SSE": "SS",
    "SHE": "SZ", "SZSE": "SZ", "TYO": "T", "KRX": "KS", "KOSDAQ": "KQ", "ETR": "DE", "XETRA": "DE",
    "FRA": "DE", "EPA": "PA", "LON": "L", "LSE": "L", "AMS": "AS", "SWX": "SW", "SIX": "SW",
    "TSX": "TO",
}
# Every pattern below is a flat sequence of bounded or single character classes: no nested
# quantifiers, so matching time is linear in the text.
# Lookarounds use [A-Za-z0-9_], not \w: a ticker right after a Chinese character
# ("买入$BTC", "在BTC上涨时") is still a ticker.
_CASHTAG = re.compile(r"(?<![A-Za-z0-9_$])\$([A-Za-z][A-Za-z0-9]{0,9}(?:\.[A-Z])?)(?![A-Za-z0-9_$])")
_QUALIFIED = re.compile(
    r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, _EXCHANGES), key=len, reverse=True))
    + r")\s?[:：]\s?([A-Z0-9]{1,6}(?:\.[A-Z])?)(?![A-Za-z0-9_])"
)
_SUFFIXED = re.compile(
    r"(?<![A-Za-z0-9_.$])([0-9]{3,6}|[0-9]{3}[A-Z]|[A-Z][A-Z0-9&]{0,5})"
    r"\.(HK|TWO|TW|SS|SH|SZ|T|KS|KQ|OQ|O|N|DE|L|PA|AS|SW|MC|MI|ST|HE|CO|BR|TO)(?![A-Za-z0-9_])"
)
_DOT_CODE = re.compile(r"(?<![A-Za-z0-9_.])(\.[A-Z][A-Z0-9]{1,5})(?![A-Za-z0-9_])")
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_$])([A-Z0-9]{2,10})[/\-]?(USDT|USDC|USD|FDUSD|BUSD)(?![A-Za-z0-9_])"
)
_UPPER = re.compile(r"(?<![A-Za-z0-9_$.&/\-])([A-Z][A-Z0-9]{0,5})(?![A-Za-z0-9_&]|[.\-][A-Za-z0-9])")
_SENTENCE_END = re.compile(r"[.!?。！？;；\n]")
#: Share and follow prompts ("Share on Facebook", "Follow NBC News on Twitter"): blanked
#: before matching, with the rest of their line.
_CHROME = re.compile(
    r"(?i)\b(?:share|post|pin|send|tweet|follow|like us|find us|connect with us|join us)"
    r"[\w@. ]{0,40}?\b(?:on |to |via |at )?(?:facebook|twitter|instagram|linkedin|whatsapp"
    r"|pinterest|reddit|telegram|youtube|tiktok|threads|weibo|wechat|e-?mail)\b[^\n]{0,80}"
    r"|分享到[^\n]{0,40}|分享至[^\n]{0,40}|关注我们[^\n]{0,40}|關注我們[^\n]{0,40}",
    re.ASCII,
)
#: A line made only of these words is a row of buttons ("Facebook Twitter Email").
_BUTTON_WORDS = frozenset(
    [
        "facebook", "twitter", "x", "instagram", "linkedin", "whatsapp", "pinterest", "reddit",
        "telegram", "youtube", "tiktok", "threads", "email", "e-mail", "print", "share",
        "comment", "comments", "copy", "link", "save", "tweet", "pin", "flipboard", "微信", "微博",
        "QQ空间", "分享", "朋友圈",
    ]
)
_LINE_WORD = re.compile(r"[A-Za-z\-]+|[\u4e00-\u9fff]+")
_PRICE = re.compile(
    r"\$\s?\d|\d\s?%|\d\s?(?:美元|美金|港元|港币|港幣|元|USDT?\b|USD\b)|[+\-−]\d"
    r"|\b(?:up|down|rose|fell|gained|lost|jumped|slid|dropped|surged|rallied|plunged|tumbled"
    r"|climbed|soared|sank|shares|stock|stocks|price|prices|token|tokens|coin|coins|trading"
    r"|traded|ticker|ETF|futures|market cap)\b"
    r"|涨|漲|跌|股价|股價|币价|幣價|价格|價格|行情|市值|代币|代幣|股票",
    re.ASCII,
)
#: A price or a percentage.
_NUMERIC = re.compile(
    r"\$\s?\d|\d\s?%|\d\s?(?:美元|美金|港元|港币|港幣|元|USDT?\b|USD\b)|[+\-−]\d+(?:\.\d+)?%?",
    re.ASCII,
)
#: Words right after an ambiguous name that make it the company ("Apple Inc", "Apple shares").
_FOLLOWER = re.compile(
    r"(?:['’]s)?\s?(?:Inc\b|Inc\.|Corp\b|Corp\.|Corporation\b|Co\.|Ltd\b|plc\b|Platforms\b"
    r"|Holdings\b|Group\b|shares\b|stock\b|stocks\b|earnings\b|revenue\b|revenues\b|sales\b"
    r"|profit\b|CEO\b|chief executive\b|chairman\b|investors\b|market value\b|market cap\b"
    r"|board\b|results\b|quarter\b|share price\b|stake\b|公司|集团|集團|股价|股價|股票|市值|财报"
    r"|財報|营收|營收|首席执行官|執行長|CEO|董事长|董事長|股份|手机|手機|iPhone)",
    re.ASCII,
)
#: Words in the same sentence that show a company is meant.
_COMPANY_WORDS = re.compile(
    r"(?i)\b(?:shares|stock|stocks|investors?|earnings|revenue|revenues|quarterly|quarter"
    r"|CEO|chief executive|executives?|analysts?|market value|market cap|acquisition|acquire[sd]?"
    r"|merger|subsidiary|company|company's|firm|tech giant|giant|retailer|automaker|carmaker"
    r"|maker|manufacturer|chipmaker|brand|customers|announced|unveiled|launched|rolled out"
    r"|rolling out|sued|lawsuit|regulators?|antitrust|IPO|listing|listed"
    r"|headquartered|spokesperson|spokesman|spokeswoman|Big Tech)\b"
    r"|公司|集团|集團|股价|股價|股票|市值|财报|財報|营收|營收|发布|發布|推出|宣布|收购|收購|投资|投資"
    r"|首席执行官|執行長|董事长|董事長|品牌|用户|用戶|手机|手機|芯片|晶片|汽车|汽車",
    re.ASCII,
)
#: Words in the same sentence that show a crypto asset is meant ("Ether rose 3%").
_CRYPTO_WORDS = re.compile(
    r"(?i)\b(?:crypto\w*|blockchain|token|tokens|coin|coins|altcoins?|stablecoins?|defi|nft|wallet"
    r"|exchange|staking|mainnet|on-chain|bitcoin|ethereum|protocol|network|airdrop|market cap)\b"
    r"|加密|区块链|區塊鏈|代币|代幣|币|幣|链|鏈",
    re.ASCII,
)
#: A company name right before one of these is a sponsor's name on a venue or an event
#: ("Verizon Amphitheatre", "KeyBank Center", "Bridgestone Arena").
_VENUE_AFTER = re.compile(
    r"(?:['’]s)?\s(?:Arena|Amphitheatre|Amphitheater|Center|Centre|Stadium|Field|Park|Pavilion"
    r"|Theatre|Theater|Music Theatre|Hall|Bowl|Dome|Garden|Gardens|Coliseum|Speedway|Ballpark"
    r"|Open|Classic|Championship|Cup|Series|Finals|Grand Prix|Marathon)\b"
    r"|大学|大學|学院|學院|中学|中學|体育场|體育場|体育馆|體育館",
    re.ASCII,
)
#: A name right after one of these is a medium or a shop: "on Facebook", "via Amazon".
_MEDIUM_BEFORE = re.compile(r"(?i)\b(?:on|via|at|from)\s$", re.ASCII)
#: Chinese names that are also the tail of other words.
ZH_GUARDS: dict[str, str] = {
    "京东": "北南",
    "京東": "北南",
    "百度": "一二三四五六七八九十几幾数數零两兩百千",
    "美的": "很真最好完甜",
}


@dataclass
class AssetHit:
    """One asset found in an article."""

    symbol: str
    name: str
    kind: Kind
    market: str
    where: list[Zone] = field(default_factory=list)
    count: int = 0
    salience: float = 0.0
    explicit: bool = False
    first: int = 0


@dataclass(frozen=True)
class _Matcher:
    table: AssetTable
    automaton: ahocorasick.Automaton
    #: Bare-ticker lookup: code -> (symbol, distinctive)
    bare: dict[str, tuple[str, bool]]
    crypto_codes: frozenset[str]


@cache
def _matcher() -> _Matcher:
    table = load_table()
    automaton = ahocorasick.Automaton()
    entries: dict[str, list[tuple[str, str, bool]]] = {}
    for symbol, asset in table.assets.items():
        for name in asset.names:
            entries.setdefault(name.lower(), []).append((symbol, name, False))
        for name in asset.context_names:
            entries.setdefault(name.lower(), []).append((symbol, name, True))
        for name in asset.zh:
            entries.setdefault(name, []).append((symbol, name, False))
        for name in asset.zh_context:
            entries.setdefault(name, []).append((symbol, name, True))
    for key, values in entries.items():
        automaton.add_word(key, (key, tuple(values)))
    automaton.make_automaton()
    bare: dict[str, tuple[str, bool]] = {}
    for code, symbol in table.codes.items():
        # One- and two-letter codes (A, C, F, HD, ON) are never taken alone.
        if code.isalnum() and code.isupper() and len(code) >= 3 and code[0].isalpha():
            if code in table.acronyms or code in CURRENCIES:
                continue
            word = code.lower() in table.common_words
            is_crypto = table.assets[symbol].kind == "crypto"
            # Distinctive: four letters or more (NVDA, AAPL), or a crypto ticker (BTC, ETH),
            # and no English word. Three-letter stock codes (CCI, DOV) need context.
            bare[code] = (symbol, not word and (len(code) >= 4 or is_crypto))
    crypto = frozenset(
        c for s, a in table.assets.items() if a.kind == "crypto" for c in a.codes if c.isalnum()
    )
    return _Matcher(table, automaton, bare, crypto)


class _Found:
    def __init__(self, matcher: _Matcher) -> None:
        self.matcher = matcher
        self.hits: dict[str, AssetHit] = {}
        self.pending: list[tuple[str, Zone, int]] = []  # ambiguous names without context
        self.confirmed: dict[str, int] = {}  # ambiguous names with context, per symbol
        self.unambiguous: set[str] = set()  # symbols found by an unambiguous form
        self.checks: dict[str, list[int]] = {}  # ambiguous names: [examined, confirmed]

    def add(
        self, symbol: str, zone: Zone, position: int, *, explicit: bool = False,
        ambiguous: bool = False,
    ) -> None:
        hit = self.hits.get(symbol)
        if hit is None:
            asset = self.matcher.table.assets.get(symbol)
            kind: Kind
            if asset is None:  # an explicit code not in the tables ($PLUG, 3231.TW)
                kind, name, market = "stock", symbol, _market_of(symbol)
            else:
                kind, name, market = asset.kind, asset.name, asset.market
            hit = self.hits[symbol] = AssetHit(symbol, name, kind, market, first=position)
        hit.count += 1
        hit.explicit = hit.explicit or explicit
        if not ambiguous:
            self.unambiguous.add(symbol)
        if zone not in hit.where:
            hit.where.append(zone)
        hit.first = min(hit.first, position)


def _market_of(symbol: str) -> str:
    suffix = symbol.rsplit(".", 1)[1] if "." in symbol else ""
    return {"HK": "HKEX", "TW": "TWSE", "TWO": "TPEx", "SS": "SSE", "SZ": "SZSE", "T": "TSE",
            "KS": "KRX", "KQ": "KOSDAQ"}.get(suffix, suffix or "US")


def find_assets(
    title: str | None, text: str | None, extra: Sequence[tuple[str | None, str | None]] = ()
) -> list[AssetHit]:
    """The assets of an article, most salient first.

    Args:
        title, text: the article (the text's first paragraph is its lead).
        extra: more (title, text) pairs of the same article, e.g. the original before
            translation; an asset found in both counts once per mention in each.
    """
    matcher = _matcher()
    found = _Found(matcher)
    offset = 0
    scanned = []
    for pair_title, pair_text in [(title, text), *extra]:
        for zone, part in _zones(pair_title, pair_text):
            part = _without_chrome(normalize(part).replace("’", "'"))
            scanned.append(part)
            _scan(part, zone, offset, found)
            offset += len(part) + 1
    _resolve_pending(found, "\n".join(scanned))
    hits = list(found.hits.values())
    for hit in hits:
        hit.where.sort(key=ZONES.index)
        hit.salience = float(
            sum(ZONE_WEIGHT[z] for z in hit.where) + min(hit.count, MAX_COUNTED_MENTIONS)
            + (1 if hit.explicit else 0)
        )
    hits.sort(key=lambda h: (-h.salience, h.first, h.symbol))
    return hits


def extract_symbols(texts: Sequence[str | None]) -> list[str]:
    """The symbols named in ``texts`` (title, text, original title, original text...), most
    salient first, at most :data:`MAX_SYMBOLS`. The first text is the title."""
    parts = list(texts) + [None] * (len(texts) % 2)
    pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts), 2)]
    if not pairs:
        return []
    hits = find_assets(pairs[0][0], pairs[0][1], pairs[1:])
    return [h.symbol for h in hits][:MAX_SYMBOLS]


def _zones(title: str | None, text: str | None) -> list[tuple[Zone, str]]:
    zones: list[tuple[Zone, str]] = []
    if title:
        zones.append(("title", title))
    if text:
        cut = text.find("\n", LEAD_MIN_CHARS)
        cut = LEAD_MAX_CHARS if cut < 0 or cut > LEAD_MAX_CHARS else cut
        if cut < len(text):
            # Cut on a space so a name is not split between the lead and the body.
            space = text.rfind(" ", LEAD_MIN_CHARS, cut)
            cut = space if space > 0 and not text[cut].isspace() else cut
        zones.append(("lead", text[:cut]))
        if text[cut:]:
            zones.append(("body", text[cut:]))
    return zones


def _scan(text: str, zone: Zone, offset: int, found: _Found) -> None:
    taken: list[tuple[int, int]] = []  # spans already explained by an explicit form
    _explicit(text, zone, offset, found, taken)
    _names(text, zone, offset, found, taken)
    _bare(text, zone, offset, found, taken)


def _without_chrome(text: str) -> str:
    """The text with share/follow prompts and rows of buttons blanked (same length)."""
    text = _CHROME.sub(lambda m: " " * len(m.group()), text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        words = _LINE_WORD.findall(line)
        if len(words) >= 2 and all(w.lower() in _BUTTON_WORDS for w in words):
            lines[i] = " " * len(line)
    return "\n".join(lines)


def _explicit(text: str, zone: Zone, offset: int, found: _Found, taken: list[tuple[int, int]]) -> None:
    codes = found.matcher.table.codes
    for m in _CASHTAG.finditer(text):
        value = m.group(1)
        symbol = codes.get(value.upper())
        if symbol is None and value.isupper() and value not in CURRENCIES:
            symbol = value
        if symbol is not None:
            found.add(symbol, zone, offset + m.start(), explicit=True)
            taken.append(m.span())
    for m in _QUALIFIED.finditer(text):
        code = m.group(2)
        suffix = _EXCHANGES[m.group(1)]
        symbol = _code_symbol(code, suffix, codes)
        found.add(symbol, zone, offset + m.start(), explicit=True)
        taken.append(m.span())
    for m in _SUFFIXED.finditer(text):
        symbol = _suffixed(m.group(1), m.group(2), codes)
        if symbol is not None:
            found.add(symbol, zone, offset + m.start(), explicit=True)
            taken.append(m.span())
    for m in _DOT_CODE.finditer(text):
        symbol = codes.get(m.group(1))
        if symbol is not None:
            found.add(symbol, zone, offset + m.start(), explicit=True)
            taken.append(m.span())
    for m in _PAIR.finditer(text):
        base = m.group(1)
        if base in found.matcher.crypto_codes and not _inside(m.span(), taken):
            found.add(codes.get(base, base), zone, offset + m.start(), explicit=True)
            taken.append(m.span())


def _code_symbol(code: str, suffix: str, codes: dict[str, str]) -> str:
    """The symbol of a ticker written after an exchange name (``HKEX: 700``)."""
    if suffix == "US":
        return codes.get(code, code)
    return _suffixed(code, suffix, codes) or codes.get(code, code)


def _suffixed(base: str, suffix: str, codes: dict[str, str]) -> str | None:
    """``0700.HK``/``700.HK`` -> 0700.HK; ``600519.SH`` -> 600519.SS; ``NVDA.O`` -> NVDA.
    Letter codes with a one-letter suffix must be known (``U.S`` or ``ID.T`` are no codes)."""
    suffix = {"SH": "SS"}.get(suffix, suffix)
    if suffix in ("O", "OQ", "N"):  # Reuters instrument codes of US listings
        return codes.get(base) if base.isalpha() else None
    if suffix == "HK" and base.isdigit():
        base = base[-4:].zfill(4) if len(base) <= 5 else base
    code = f"{base}.{suffix}"
    if code in codes:
        return codes[code]
    if base.isdigit() and (
        (suffix in ("SS", "SZ", "KS", "KQ") and len(base) == 6)
        or (suffix in ("HK", "T", "TW", "TWO") and len(base) == 4)
    ):
        return code  # a well-formed code of a listing not in the tables
    return None


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(s <= span[0] < e or s < span[1] <= e for s, e in taken)


def _names(text: str, zone: Zone, offset: int, found: _Found, taken: list[tuple[int, int]]) -> None:
    lower = text.lower()
    if len(lower) != len(text):  # a few characters change length when lower-cased
        lower = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    for end, (key, entries) in found.matcher.automaton.iter_long(lower):
        start = end - len(key) + 1
        written = text[start : end + 1]
        if _inside((start, end + 1), taken):
            continue
        cjk = not key.isascii()
        if not cjk and not _word_bounded(text, start, end + 1):
            continue
        if cjk and start and text[start - 1] in ZH_GUARDS.get(key, ""):
            continue
        if _VENUE_AFTER.match(text, end + 1):
            continue
        for symbol, name, ambiguous in entries:
            if not ambiguous and (cjk or written == name or not _needs_case(name)):
                if not cjk and _MEDIUM_BEFORE.search(text, max(0, start - 5), start) and not (
                    _FOLLOWER.match(text, end + 1)
                ):
                    continue
                found.add(symbol, zone, offset + start)
                break
            if ambiguous and written == name:
                if _confirmed(found, symbol, text, start, end + 1):
                    found.confirmed[symbol] = found.confirmed.get(symbol, 0) + 1
                    found.add(symbol, zone, offset + start, ambiguous=True)
                else:
                    found.pending.append((symbol, zone, offset + start))
                break


#: Mentions of one ambiguous name whose context is examined; later ones follow the majority
#: (a text repeating "Apple" thousands of times costs no more than one repeating it twenty).
MAX_CONTEXT_CHECKS = 20


def _confirmed(found: _Found, symbol: str, text: str, start: int, end: int) -> bool:
    checks = found.checks.setdefault(symbol, [0, 0])  # [examined, confirmed]
    if checks[0] >= MAX_CONTEXT_CHECKS:
        return 3 * checks[1] >= checks[0]
    kind = found.matcher.table.assets[symbol].kind
    medium = _MEDIUM_BEFORE.search(text, max(0, start - 5), start)
    ok = bool(
        (_FOLLOWER.match(text, end) and kind != "crypto")
        or (not medium and _context(_sentence(text, start, end), kind))
    )
    checks[0] += 1
    checks[1] += ok
    return ok


def _context(sentence: str, kind: str) -> bool:
    if kind == "crypto":
        return bool(_CRYPTO_WORDS.search(sentence) and _PRICE.search(sentence))
    return bool(_COMPANY_WORDS.search(sentence) or _NUMERIC.search(sentence))


def _needs_case(name: str) -> bool:
    """Names written in capitals ("NIO", "TRON") or mixed case ("iQIYI") match only as written."""
    return name.isupper() or (any(c.isupper() for c in name[1:]) and " " not in name)


def _word_bounded(text: str, start: int, end: int) -> bool:
    """No letter or digit of a space-separated script touches the name (a Chinese character
    may: "从Sony Music开始")."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    return not (_latin_word_char(before) or before in "@#") and not _latin_word_char(after)


def _latin_word_char(char: str) -> bool:
    return (char.isalnum() or char == "_") and char < "\u2e80"


def _sentence(text: str, start: int, end: int) -> str:
    left = max(0, start - 200)
    right = min(len(text), end + 200)
    lm = None
    for lm in _SENTENCE_END.finditer(text, left, start):  # noqa: B007 - keeps the last one
        pass
    s = lm.end() if lm else left
    rm = _SENTENCE_END.search(text, end, right)
    e = rm.start() if rm else right
    return text[s:e]


def _bare(text: str, zone: Zone, offset: int, found: _Found, taken: list[tuple[int, int]]) -> None:
    bare = found.matcher.bare
    shouting: dict[int, bool] = {}  # line start -> all capitals, computed once per line
    for m in _UPPER.finditer(text):
        entry = bare.get(m.group(1))
        if entry is None or _inside(m.span(), taken):
            continue
        symbol, distinctive = entry
        line = text.rfind("\n", 0, m.start()) + 1
        if line not in shouting:
            shouting[line] = _shouting(text, line)
        if shouting[line]:
            continue
        word = m.group(1).lower() in found.matcher.table.common_words
        if (distinctive and not word) or _ticker_context(text, m.start(), m.end(), found, word):
            found.add(symbol, zone, offset + m.start())


def _shouting(text: str, start: int) -> bool:
    """True for an all-capitals line (a headline or a menu): no bare ticker there."""
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)]
    letters = [c for c in line if c.isalpha() and c.isascii()]
    return len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.7 * len(letters)


def _ticker_context(text: str, start: int, end: int, found: _Found, word: bool) -> bool:
    """A price or percentage, a market word (not for tickers that are English words: ONE,
    LINK), or a distinctive ticker right next to the word ("BTC, ETH and DOGE")."""
    reach = 15 if word else 25
    if _NUMERIC.search(text, max(0, start - reach), end + reach):
        return True
    window = text[max(0, start - 25) : end + 25]
    if not word and _PRICE.search(window):
        return True
    bare = found.matcher.bare
    return any(
        n.group(1) != text[start:end] and n.group(1) in bare and bare[n.group(1)][1]
        and n.group(1).lower() not in found.matcher.table.common_words
        for n in _UPPER.finditer(window)
    )


def _has_clue(found: _Found, symbol: str, texts: str) -> bool:
    clues = found.matcher.table.assets[symbol].clues
    return bool(clues) and _clue_pattern(symbol, frozenset(clues)).search(texts) is not None


@cache
def _clue_pattern(symbol: str, clues: frozenset[str]) -> re.Pattern[str]:
    del symbol  # part of the cache key only
    latin = sorted((c for c in clues if c.isascii()), key=len, reverse=True)
    cjk = sorted((c for c in clues if not c.isascii()), key=len, reverse=True)
    parts = []
    if latin:
        parts.append(
            r"(?<![A-Za-z0-9_])(?:" + "|".join(map(re.escape, latin)) + r")(?![A-Za-z0-9_])"
        )
    if cjk:
        parts.append("|".join(map(re.escape, cjk)))
    return re.compile("|".join(parts))


def _resolve_pending(found: _Found, texts: str) -> None:
    """Ambiguous names without context count when the article names the asset by an
    unambiguous form or shows one of its clues (``iPhone`` for Apple). Found only through ambiguous names, the asset stays only if at least a
    third of those mentions had context: "Ford" sixty times in a piece on the writer John M.
    Ford, twice near a company word, is not Ford Motor."""
    clued = {s for s in {p[0] for p in found.pending} | set(found.hits)
             if s not in found.unambiguous and _has_clue(found, s, texts)}
    found.unambiguous |= clued
    unconfirmed: dict[str, int] = {}
    for symbol, _, _ in found.pending:
        unconfirmed[symbol] = unconfirmed.get(symbol, 0) + 1
    for symbol in list(found.hits):
        if symbol in found.unambiguous:
            continue
        confirmed = found.confirmed.get(symbol, 0)
        if 3 * confirmed < confirmed + unconfirmed.get(symbol, 0):
            del found.hits[symbol]
    for symbol, zone, position in found.pending:
        if symbol in found.unambiguous:
            found.add(symbol, zone, position)
