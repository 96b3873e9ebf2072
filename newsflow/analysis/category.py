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
(crypto assets for ``crypto``, stocks for ``markets``). A topic is clear when it scores at
least :data:`MIN_SCORE` and at least :data:`MARGIN` times the runner-up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from newsflow.analysis._text import normalize
from newsflow.analysis.assets import ASSETS

TOPICS = ("crypto", "markets", "tech")
FALLBACK_TOPIC = "news"
TITLE_WEIGHT = 3
SYMBOL_WEIGHT = 2
MIN_SCORE = 4
MARGIN = 1.5

#: Terms per topic: English ones match whole words case-insensitively (a trailing ``*``
#: allows any ending), Chinese ones (simplified and traditional) match as substrings.
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


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    patterns = {}
    for topic, terms in TOPIC_TERMS.items():
        parts = []
        for term in sorted(terms, key=lambda t: (-len(t), t)):
            if term.isascii():
                stem = re.escape(term.rstrip("*")).replace(r"\ ", r"\s+")
                ending = r"[A-Za-z\-]*" if term.endswith("*") else ""
                parts.append(rf"(?<![A-Za-z0-9_]){stem}{ending}(?![A-Za-z0-9_])")
            else:
                parts.append(re.escape(term))
        patterns[topic] = re.compile("|".join(parts), re.IGNORECASE)
    return patterns


def language_code(language: str | None) -> str:
    """``zh-Hant-TW`` -> ``zh``; None or garbage -> ``und``."""
    primary = (language or "").strip().replace("_", "-").split("-")[0].lower()
    return primary if primary.isascii() and primary.isalpha() and 2 <= len(primary) <= 3 else "und"


def topic_scores(title: str | None, text: str, symbols: Sequence[str]) -> dict[str, float]:
    """The evidence for each topic (see the module docstring)."""
    title = normalize(title or "")
    text = normalize(text or "")
    scores: dict[str, float] = {}
    for topic, pattern in _patterns().items():
        scores[topic] = float(
            len(pattern.findall(text)) + TITLE_WEIGHT * len(pattern.findall(title))
        )
    for symbol in symbols:
        kind = ASSETS.get(symbol, {}).get("kind")
        if kind == "crypto":
            scores["crypto"] += SYMBOL_WEIGHT
        elif kind == "stock":
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
