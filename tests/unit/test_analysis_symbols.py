"""Asset symbols from tickers and names (English, simplified and traditional Chinese)."""

from __future__ import annotations

import pytest

from newsflow.stages.analysis import extract_symbols
from newsflow.stages.analysis.assets import ASSETS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # tickers
        ("$BTC broke out overnight", ["BTC"]),
        ("Traders piled into $nvda calls", ["NVDA"]),
        ("Nvidia Corp. (NASDAQ: NVDA) reported", ["NVDA"]),
        ("shares of Tesla (Nasdaq:TSLA)", ["TSLA"]),
        ("Visa (NYSE: V) beat estimates", ["V"]),
        ("NVDA.O rose 3% while AAPL.OQ fell", ["NVDA", "AAPL"]),
        ("BTC and ETH led, XRP and DOGE followed", ["BTC", "ETH", "XRP", "DOGE"]),
        ("SOL/USD and BTCUSDT both rallied", ["SOL", "BTC"]),
        ("Berkshire's BRK.B shares", ["BRK.B"]),
        ("a small cap, $PLUG, doubled", ["PLUG"]),
        ("Chinese text around a ticker: 在BTC上涨时", ["BTC"]),
        # English names
        ("Bitcoin and bitcoin and BITCOIN", ["BTC"]),
        ("Nvidia and NVIDIA, then Microsoft", ["NVDA", "MSFT"]),
        ("Ethereum upgrade; Ether price", ["ETH"]),
        ("Bitcoin Cash is not Bitcoin", ["BCH", "BTC"]),
        ("Apple Inc. said on Monday", ["AAPL"]),
        ("Apple's iPhone sales slowed", ["AAPL"]),
        ("Apple shares fell 2%", ["AAPL"]),
        ("Amazon Web Services grew; Amazon said", ["AMZN"]),
        ("Meta Platforms and Instagram", ["META"]),
        ("Intel CEO spoke", ["INTC"]),
        # simplified Chinese
        ("比特币突破十万美元", ["BTC"]),
        ("以太坊和英伟达", ["ETH", "NVDA"]),
        ("特斯拉与苹果公司", ["TSLA", "AAPL"]),
        ("苹果股价大涨", ["AAPL"]),
        ("台积电和阿里巴巴", ["TSM", "BABA"]),
        ("京东和百度的股价", ["JD", "BIDU"]),
        ("礼来公司的减肥药", ["LLY"]),
        ("博通芯片", ["AVGO"]),
        # traditional Chinese
        ("比特幣價格創新高", ["BTC"]),
        ("輝達與英偉達", ["NVDA"]),
        ("蘋果公司與特斯拉", ["AAPL", "TSLA"]),
        ("狗狗幣與萊特幣", ["DOGE", "LTC"]),
        ("台積電股價", ["TSM"]),
    ],
)
def test_symbols_found(text: str, expected: list[str]) -> None:
    assert sorted(extract_symbols([text])) == sorted(expected)


@pytest.mark.parametrize(
    "text",
    [
        "IT is ON NOW for ALL of us, and A ONE-time deal",
        "DOT regulators and the LINK between them",
        "I ate an apple pie. Apple pie is good.",
        "Apple said on Monday that it would grow",  # no company context
        "the Amazon rainforest is burning; Amazon river levels fell",
        "military intel suggests a tether of sorts",
        "苹果很好吃，亚马逊雨林很大",
        "甲骨文是中国最早的文字",  # oracle-bone script, not Oracle Corp
        "Prices in $USD and USD, plus $100",
        "META tags in HTML",
        "Share this on Facebook",
        "在北京东单有一座楼，南京东路很热闹",  # 京东 inside place names
        "水烧到一百度",  # a temperature, not Baidu
        "婚礼来宾很多，他带着礼来了",  # 礼来: gifts, not Eli Lilly
        "他博通古今",  # an idiom, not Broadcom
        "",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert extract_symbols([text]) == []


def test_ambiguous_name_counts_with_a_clue_elsewhere_in_the_article() -> None:
    assert extract_symbols(["Apple unveiled a product", "The new iPhone costs more"]) == ["AAPL"]
    assert extract_symbols(["Amazon said", "AWS revenue rose"]) == ["AMZN"]
    assert extract_symbols(["Oracle Corp and Oracle"]) == ["ORCL"]


def test_ambiguous_name_counts_when_the_ticker_is_there() -> None:
    assert extract_symbols(["Apple (NASDAQ: AAPL) said. Later Apple added"]) == ["AAPL"]


def test_order_is_by_mentions_then_first_mention() -> None:
    text = "Ethereum rose. Bitcoin rose. Bitcoin, BTC, and $BTC. Solana too. Ethereum again."
    assert extract_symbols([text]) == ["BTC", "ETH", "SOL"]


def test_symbols_found_in_translation_and_original() -> None:
    assert extract_symbols(["Huida shares rose", None, "輝達股價上漲"]) == ["NVDA"]


def test_at_most_twenty_symbols() -> None:
    text = " ".join(f"${s}" for s in ASSETS)
    assert len(ASSETS) > 20
    assert len(extract_symbols([text])) == 20


def test_table_is_well_formed() -> None:
    for symbol, asset in ASSETS.items():
        assert symbol == symbol.upper()
        assert asset["kind"] in ("crypto", "stock")
        assert isinstance(asset["bare"], bool)
    # Every traditional/simplified pair the requirements name is in the table.
    names = {n: s for s, a in ASSETS.items() for n in a.get("zh", [])}
    for name, symbol in [
        ("比特幣", "BTC"),
        ("比特币", "BTC"),
        ("以太坊", "ETH"),
        ("輝達", "NVDA"),
        ("英伟达", "NVDA"),
        ("英偉達", "NVDA"),
        ("特斯拉", "TSLA"),
        ("苹果公司", "AAPL"),
    ]:
        assert names[name] == symbol
