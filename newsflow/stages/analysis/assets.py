"""The asset table: ticker symbols and the names that mean them, as plain data.

Each entry maps a symbol to:

``kind``
    ``"crypto"`` or ``"stock"`` (the category uses it).
``bare``
    True when the ticker written alone in upper case (``BTC``, ``NVDA``) counts. False for
    tickers that are English words or common acronyms (``ONE``, ``DOT``, ``LINK``, ``V``,
    ``MA``, ``META``): those count only as ``$X``, in an exchange pattern (``NYSE: V``) or
    with a Reuters suffix (``V.N``), or through one of their names.
``names``
    Names matched case-insensitively on word boundaries (``Bitcoin``, ``bitcoin``, ``BITCOIN``).
``cased``
    Names matched only with this exact case (``TRON``, ``NVIDIA``).
``zh``
    Chinese names, simplified and traditional, matched as substrings (Chinese has no spaces).
``context``
    Ambiguous names (``Apple`` the fruit, ``Amazon`` the river, ``苹果``): they count only
    with company context, see :data:`COMPANY_FOLLOWERS` and ``clues``.
``clues``
    Words that, anywhere in the same article, show that an ambiguous name means the company
    (``iPhone`` for Apple, ``AWS`` for Amazon).

Add an asset by adding an entry; :mod:`newsflow.stages.analysis.symbols` compiles the matchers.
"""

from __future__ import annotations

from typing import Literal, TypedDict


class Asset(TypedDict, total=False):
    kind: Literal["crypto", "stock"]
    bare: bool
    names: list[str]
    cased: list[str]
    zh: list[str]
    context: list[str]
    clues: list[str]


ASSETS: dict[str, Asset] = {
    # --- crypto assets ----------------------------------------------------------------------
    "BTC": {"kind": "crypto", "bare": True, "names": ["Bitcoin"], "zh": ["比特币", "比特幣"]},
    "ETH": {
        "kind": "crypto",
        "bare": True,
        "names": ["Ethereum"],
        "cased": ["Ether"],
        "zh": ["以太坊", "以太币", "以太幣"],
    },
    "SOL": {"kind": "crypto", "bare": True, "names": ["Solana"], "zh": ["索拉纳", "索拉納"]},
    "XRP": {
        "kind": "crypto",
        "bare": True,
        "cased": ["Ripple"],
        "zh": ["瑞波币", "瑞波幣", "瑞波"],
    },
    "DOGE": {"kind": "crypto", "bare": True, "names": ["Dogecoin"], "zh": ["狗狗币", "狗狗幣"]},
    "BNB": {"kind": "crypto", "bare": True, "names": ["Binance Coin"], "zh": ["币安币", "幣安幣"]},
    "ADA": {"kind": "crypto", "bare": False, "names": ["Cardano"], "zh": ["艾达币", "艾達幣"]},
    "TRX": {"kind": "crypto", "bare": True, "cased": ["TRON"], "zh": ["波场", "波場"]},
    "TON": {"kind": "crypto", "bare": False, "names": ["Toncoin"]},
    "AVAX": {"kind": "crypto", "bare": True},
    "DOT": {"kind": "crypto", "bare": False, "names": ["Polkadot"]},
    "LINK": {"kind": "crypto", "bare": False, "names": ["Chainlink"]},
    "LTC": {"kind": "crypto", "bare": True, "names": ["Litecoin"], "zh": ["莱特币", "萊特幣"]},
    "BCH": {
        "kind": "crypto",
        "bare": True,
        "names": ["Bitcoin Cash"],
        "zh": ["比特币现金", "比特幣現金"],
    },
    "XMR": {"kind": "crypto", "bare": True, "names": ["Monero"], "zh": ["门罗币", "門羅幣"]},
    "SHIB": {"kind": "crypto", "bare": True, "names": ["Shiba Inu coin"]},
    "UNI": {"kind": "crypto", "bare": False, "names": ["Uniswap"]},
    "ARB": {"kind": "crypto", "bare": False, "names": ["Arbitrum"]},
    "USDT": {"kind": "crypto", "bare": True, "cased": ["Tether"], "zh": ["泰达币", "泰達幣"]},
    "USDC": {"kind": "crypto", "bare": True, "names": ["USD Coin"]},
    # --- stocks -----------------------------------------------------------------------------
    "AAPL": {
        "kind": "stock",
        "bare": True,
        "names": ["Apple Inc"],
        "zh": ["苹果公司", "蘋果公司"],
        "context": ["Apple", "苹果", "蘋果"],
        "clues": [
            "iPhone",
            "iPad",
            "MacBook",
            "iOS",
            "App Store",
            "Tim Cook",
            "Cupertino",
            "Vision Pro",
            "Apple Watch",
            "AirPods",
            "Apple Intelligence",
            "库克",
            "庫克",
        ],
    },
    "MSFT": {"kind": "stock", "bare": True, "names": ["Microsoft"], "zh": ["微软", "微軟"]},
    "NVDA": {
        "kind": "stock",
        "bare": True,
        "names": ["Nvidia"],
        "zh": ["英伟达", "英偉達", "辉达", "輝達"],
    },
    "TSLA": {"kind": "stock", "bare": True, "names": ["Tesla"], "zh": ["特斯拉"]},
    "AMZN": {
        "kind": "stock",
        "bare": True,
        "names": ["Amazon.com"],
        "zh": ["亚马逊公司", "亞馬遜公司"],
        "context": ["Amazon", "亚马逊", "亞馬遜"],
        "clues": ["AWS", "Amazon Web Services", "Jassy", "Bezos", "Prime Video", "e-commerce"],
    },
    "GOOGL": {
        "kind": "stock",
        "bare": True,
        "names": ["Google"],
        "zh": ["谷歌"],
        "context": ["Alphabet"],
        "clues": ["Google", "YouTube", "Pichai", "谷歌"],
    },
    "GOOG": {"kind": "stock", "bare": True},
    "META": {
        "kind": "stock",
        "bare": False,
        # "Facebook" alone is a clue, not a name: "share on Facebook" is on every page.
        "names": ["Meta Platforms", "Facebook Inc"],
        "zh": ["脸书", "臉書"],
        "context": ["Meta"],
        "clues": ["Instagram", "WhatsApp", "Zuckerberg", "Threads", "Facebook"],
    },
    "AVGO": {
        "kind": "stock",
        "bare": True,
        "names": ["Broadcom"],
        "zh": ["博通公司"],
        # 博通 alone is also an idiom ("widely read"): 博通古今
        "context": ["博通"],
        "clues": ["Broadcom", "VMware", "芯片", "晶片", "半导体", "半導體", "陈福阳", "陳福陽"],
    },
    "TSM": {
        "kind": "stock",
        "bare": True,
        "names": ["TSMC", "Taiwan Semiconductor"],
        "zh": ["台积电", "台積電"],
    },
    "AMD": {
        "kind": "stock",
        "bare": True,
        "names": ["Advanced Micro Devices"],
        "zh": ["超威半导体", "超微半導體"],
    },
    "INTC": {"kind": "stock", "bare": True, "cased": ["Intel"], "zh": ["英特尔", "英特爾"]},
    "QCOM": {"kind": "stock", "bare": True, "names": ["Qualcomm"], "zh": ["高通公司"]},
    "ASML": {"kind": "stock", "bare": True, "zh": ["阿斯麦", "艾司摩爾"]},
    "IBM": {"kind": "stock", "bare": True},
    "ORCL": {
        "kind": "stock",
        "bare": True,
        "zh": ["甲骨文公司"],
        "context": ["Oracle", "甲骨文"],
        "clues": ["Larry Ellison", "Ellison", "Oracle Cloud", "OpenAI", "Stargate"],
    },
    "PLTR": {"kind": "stock", "bare": True, "names": ["Palantir"]},
    "SMCI": {"kind": "stock", "bare": True, "names": ["Super Micro Computer", "Supermicro"]},
    "NFLX": {"kind": "stock", "bare": True, "names": ["Netflix"], "zh": ["奈飞", "网飞", "網飛"]},
    "COIN": {"kind": "stock", "bare": False, "names": ["Coinbase"]},
    "MSTR": {"kind": "stock", "bare": True, "names": ["MicroStrategy"], "zh": ["微策略"]},
    "JPM": {
        "kind": "stock",
        "bare": True,
        "names": ["JPMorgan", "JPMorgan Chase", "J.P. Morgan"],
        "zh": ["摩根大通"],
    },
    "GS": {"kind": "stock", "bare": False, "names": ["Goldman Sachs"], "zh": ["高盛"]},
    "V": {
        "kind": "stock",
        "bare": False,
        "context": ["Visa"],
        "clues": ["Mastercard", "card network", "payments network", "payment network"],
    },
    "MA": {"kind": "stock", "bare": False, "names": ["Mastercard"], "zh": ["万事达", "萬事達"]},
    "DIS": {"kind": "stock", "bare": True, "names": ["Walt Disney", "Disney"], "zh": ["迪士尼"]},
    "WMT": {"kind": "stock", "bare": True, "names": ["Walmart"], "zh": ["沃尔玛", "沃爾瑪"]},
    "XOM": {
        "kind": "stock",
        "bare": True,
        "names": ["Exxon Mobil", "ExxonMobil", "Exxon"],
        "zh": ["埃克森美孚"],
    },
    "LLY": {
        "kind": "stock",
        "bare": True,
        "names": ["Eli Lilly"],
        "zh": ["礼来公司", "禮來公司", "礼来制药", "禮來製藥"],
        # 礼来 is also "gift(s) come": 婚礼来宾, 送礼来
        "context": ["礼来", "禮來"],
        "clues": [
            "Eli Lilly",
            "Mounjaro",
            "Zepbound",
            "减肥药",
            "減肥藥",
            "替尔泊肽",
            "制药",
            "製藥",
        ],
    },
    "BRK.B": {
        "kind": "stock",
        "bare": True,
        "names": ["Berkshire Hathaway"],
        "zh": ["伯克希尔", "伯克希爾", "波克夏"],
    },
    "BABA": {"kind": "stock", "bare": True, "names": ["Alibaba"], "zh": ["阿里巴巴"]},
    "BIDU": {"kind": "stock", "bare": True, "names": ["Baidu"], "zh": ["百度"]},
    "JD": {
        "kind": "stock",
        "bare": False,
        "names": ["JD.com"],
        "zh": ["京东", "京東"],
    },  # see ZH_GUARDS
    "PDD": {
        "kind": "stock",
        "bare": True,
        "names": ["Pinduoduo", "PDD Holdings"],
        "zh": ["拼多多"],
    },
    "NIO": {"kind": "stock", "bare": True, "zh": ["蔚来", "蔚來"]},
    "TCEHY": {"kind": "stock", "bare": True, "names": ["Tencent"], "zh": ["腾讯", "騰訊"]},
    "BYDDY": {"kind": "stock", "bare": False, "cased": ["BYD"], "zh": ["比亚迪", "比亞迪"]},
}

#: Words that, right after an ambiguous name, show it is the company: "Apple Inc",
#: "Apple's shares", "Amazon stock", "Visa CEO". Matched case-insensitively.
COMPANY_FOLLOWERS: list[str] = [
    "inc",
    "inc.",
    "corp",
    "corp.",
    "corporation",
    "co.",
    "ltd",
    "plc",
    "platforms",
    "holdings",
    "shares",
    "stock",
    "stocks",
    "earnings",
    "revenue",
    "revenues",
    "ceo",
    "chief executive",
    "investors",
    "market value",
    "market cap",
    "sales",
    "profit",
]

#: Chinese followers with the same role: 苹果股价, 蘋果市值, 亚马逊财报.
COMPANY_FOLLOWERS_ZH: list[str] = [
    "公司",
    "股价",
    "股價",
    "股票",
    "市值",
    "财报",
    "財報",
    "营收",
    "營收",
    "首席执行官",
    "執行長",
    "CEO",
    "iPhone",
    "手机",
    "手機",
]

#: Chinese names that are also the tail of other words: the name does not count right after
#: one of these characters (北京东单 is a street in Beijing, 一百度 a temperature).
ZH_GUARDS: dict[str, str] = {
    "京东": "北南",
    "京東": "北南",
    "百度": "一二三四五六七八九十几幾数數零两兩",
}

#: Three-letter codes that look like cashtags but are currencies ("$USD"): never symbols.
CURRENCIES: frozenset[str] = frozenset(
    {
        "USD",
        "EUR",
        "GBP",
        "JPY",
        "CNY",
        "CNH",
        "RMB",
        "HKD",
        "TWD",
        "AUD",
        "CAD",
        "CHF",
        "SGD",
        "KRW",
        "INR",
        "US",
        "HK",
        "NT",
    }
)
