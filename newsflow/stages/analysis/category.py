"""The article's category: its source language and, when one is clear, its topic.

Categories read ``<language>_<topic>``, like the original product's ``zh_news``:
``en_crypto``, ``zh_markets``, ``ja_tech``, ``en_news``. ``<language>`` is the primary
subtag of the source language (``zh-TW`` -> ``zh``), ``und`` when it is unknown.

Topics (a deliberately small vocabulary):

``crypto``
    crypto assets, blockchains, exchanges, stablecoins, DeFi, NFTs.
``markets``
    stocks, indices, bonds, rates, central banks, earnings, commodities, the economy.
``tech``
    AI, chips, software, devices, platforms, the internet industry.
``news``
    everything else, and any article where no topic is clear.

Each topic scores its terms (:data:`TOPIC_TERMS`) in the text, title mentions counting
:data:`TITLE_WEIGHT` times, plus :data:`SYMBOL_WEIGHT` per asset symbol of the matching kind
(crypto assets for ``crypto``, stocks and indices for ``markets``). A topic is clear when it scores at
least :data:`MIN_SCORE` and at least :data:`MARGIN` times the runner-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from newsflow.stages.analysis._text import normalize
from newsflow.stages.analysis.assets import asset_kind

TOPICS = ("crypto", "markets", "tech")
FALLBACK_TOPIC = "news"
TITLE_WEIGHT = 3
SYMBOL_WEIGHT = 2
MIN_SCORE = 4
MARGIN = 1.5

#: Terms per topic: English ones (one or two words) match whole words case-insensitively,
#: a trailing ``*`` allows any ending; Chinese and Japanese ones (simplified and traditional)
#: match as substrings.
TOPIC_TERMS: dict[str, list[str]] = {
    "crypto": [
        "crypto*",
        "bitcoin*",
        "ethereum",
        "ether",
        "blockchain*",
        "stablecoin*",
        "altcoin*",
        "token*",
        "defi",
        "nft*",
        "web3",
        "memecoin*",
        "btc",
        "eth",
        "solana",
        "binance",
        "coinbase",
        "halving",
        "on-chain",
        "wallet*",
        "satoshi*",
        "加密货币",
        "加密貨幣",
        "加密",
        "区块链",
        "區塊鏈",
        "比特币",
        "比特幣",
        "以太坊",
        "稳定币",
        "穩定幣",
        "代币",
        "代幣",
        "虚拟货币",
        "虛擬貨幣",
        "数字货币",
        "數位貨幣",
        "币安",
        "幣安",
        "挖矿",
        "挖礦",
        "去中心化",
    ],
    "markets": [
        "stock*",
        "shares",
        "equit*",
        "index",
        "indices",
        "s&p",
        "nasdaq",
        "dow",
        "nyse",
        "bond*",
        "treasur*",
        "yield*",
        "interest rate*",
        "rate cut*",
        "rate hike*",
        "fed",
        "federal reserve",
        "central bank*",
        "inflation",
        "earnings",
        "revenue",
        "profit*",
        "investor*",
        "trader*",
        "traders",
        "wall street",
        "ipo",
        "dividend*",
        "valuation*",
        "market cap*",
        "commodit*",
        "oil price*",
        "gold",
        "currenc*",
        "dollar",
        "gdp",
        "recession",
        "economy",
        "economic",
        "tariff*",
        "etf*",
        "hedge fund*",
        "analyst*",
        "股市",
        "股票",
        "股价",
        "股價",
        "股指",
        "指数",
        "指數",
        "美股",
        "港股",
        "A股",
        "债券",
        "債券",
        "利率",
        "降息",
        "加息",
        "升息",
        "美联储",
        "美聯儲",
        "聯準會",
        "央行",
        "通胀",
        "通膨",
        "通脹",
        "财报",
        "財報",
        "营收",
        "營收",
        "投资者",
        "投資者",
        "投资人",
        "投資人",
        "华尔街",
        "華爾街",
        "上市",
        "市值",
        "经济",
        "經濟",
        "关税",
        "關稅",
        "汇率",
        "匯率",
        "黄金",
        "黃金",
        "原油",
        "株価",
        "株式",
        "日経",
        "金利",
        "日銀",
        "為替",
    ],
    "tech": [
        "ai",
        "artificial intelligence",
        "chip*",
        "semiconductor*",
        "gpu*",
        "software",
        "smartphone*",
        "iphone*",
        "android",
        "cloud computing",
        "data center*",
        "startup*",
        "app",
        "apps",
        "algorithm*",
        "openai",
        "chatgpt",
        "llm*",
        "robot*",
        "quantum",
        "cyber*",
        "internet",
        "tech",
        "technology",
        "processor*",
        "silicon",
        "人工智能",
        "人工智慧",
        "芯片",
        "晶片",
        "半导体",
        "半導體",
        "软件",
        "軟體",
        "手机",
        "手機",
        "大模型",
        "算力",
        "数据中心",
        "資料中心",
        "机器人",
        "機器人",
        "科技",
        "互联网",
        "網路",
        "人工知能",
        "半導体",
        "生成AI",
    ],
}


@dataclass(frozen=True)
class _Terms:
    """The topic terms split by how they are matched (word lookups, not one big regex)."""

    words: dict[str, str]  # exact word or two-word phrase -> topic
    stems: dict[str, str]  # stem of a ``*`` term -> topic
    stem_lengths: tuple[int, ...]
    cjk: dict[str, str]  # CJK term (lower-cased) -> topic


@cache
def _terms() -> _Terms:
    words: dict[str, str] = {}
    stems: dict[str, str] = {}
    cjk: dict[str, str] = {}
    for topic_name, terms in TOPIC_TERMS.items():
        for term in terms:
            if not term.isascii():
                cjk[term.lower()] = topic_name
            elif term.endswith("*"):
                stems[term[:-1]] = topic_name
            else:
                words[term] = topic_name
    return _Terms(words, stems, tuple(sorted({len(s) for s in stems})), cjk)


_WORD = re.compile(r"[a-z0-9][a-z0-9&\-]*")


def _count_terms(text: str, terms: _Terms) -> dict[str, int]:
    counts = dict.fromkeys(TOPICS, 0)
    lower = text.lower()
    words = _WORD.findall(lower)
    for i, word in enumerate(words):
        # a two-word term ("interest rates") first, then the word alone
        candidates = [f"{word} {words[i + 1]}", word] if i + 1 < len(words) else [word]
        for candidate in candidates:
            hit = terms.words.get(candidate)
            for length in terms.stem_lengths:
                if hit is not None or length > len(candidate):
                    break
                hit = terms.stems.get(candidate[:length])
            if hit is not None:
                counts[hit] += 1
                break
    for term, topic_name in terms.cjk.items():
        counts[topic_name] += lower.count(term)
    return counts


def language_code(language: str | None) -> str:
    """``zh-Hant-TW`` -> ``zh``; None or garbage -> ``und``."""
    primary = (language or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3 else "und"


def topic_scores(title: str | None, text: str, symbols: Sequence[str]) -> dict[str, float]:
    """The evidence for each topic (see the module docstring)."""
    title = normalize(title or "")
    text = normalize(text or "")
    scores: dict[str, float] = {}
    terms = _terms()
    in_text, in_title = _count_terms(text, terms), _count_terms(title, terms)
    for topic_name in TOPICS:
        scores[topic_name] = float(in_text[topic_name] + TITLE_WEIGHT * in_title[topic_name])
    for symbol in symbols:
        kind = asset_kind(symbol)
        if kind == "crypto":
            scores["crypto"] += SYMBOL_WEIGHT
        elif kind in ("stock", "index"):
            scores["markets"] += SYMBOL_WEIGHT
    return scores


def topic(title: str | None, text: str, symbols: Sequence[str] = ()) -> str:
    """The article's topic, or ``news`` when none is clear."""
    scores = topic_scores(title, text, symbols)
    ranked = sorted(TOPICS, key=lambda t: -scores[t])  # stable: ties keep TOPICS order
    best, runner_up = scores[ranked[0]], scores[ranked[1]]
    if best >= MIN_SCORE and best >= MARGIN * runner_up:
        return ranked[0]
    return FALLBACK_TOPIC


def categorize(
    *, title: str | None, text: str, language: str | None, symbols: Sequence[str] = ()
) -> str:
    """``<language>_<topic>``, e.g. ``en_crypto``, ``zh_news``."""
    return f"{language_code(language)}_{topic(title, text, symbols)}"
