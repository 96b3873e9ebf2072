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
  found by an unambiguous form elsewhere in the article. A two-character Chinese name counts
  only where the segmenter (rjieba, with the asset names) cuts it as a word of its sentence:
  国航 is not in 中国航天 or 法国航空, 道指 not in 报道指出.
* **Bare upper-case tickers** (``NVDA``, ``BTC``) count alone when they are distinctive (three
  letters or more, neither an English word nor a common abbreviation); others (``SOL``, ``LINK``,
  ``ONE``, ``IT``, ``NOW``, ``CAT``, ``HD``) only with a price, a percentage, a market word or
  another ticker right next to them on the same line (a ticker that is an English word, ``ONE``
  or ``NOT``, only with a price, a percentage or another ticker: "NOT BETWEEN -1 AND 1" is SQL),
  and never in an all-capitals line (a shouted headline).
* **Never**: page chrome (share and follow lines, "Follow us on ..."), a company named as a
  medium or a shop ("on Facebook", "took to Twitter", "a Netflix special", "Amazon offers
  AirPods for $150") unless a corporate word follows, Chinese names inside longer words (北京东单
  is not 京东), company names written all in lower case ("best buy"), a company in another
  role: an analyst's employer ("Commerzbank analyst ..."), the maker of an index ("MSCI's
  gauge"), a comparison ("the Netflix of games"), a sponsor's venue or a newspaper ("KeyBank
  Center", "The Hartford Courant"); an index's futures ("Nikkei futures"); an asset found only
  in the site name of the title ("网易娱乐", "... -搜狐财经"); a source of figures ("according to
  ...", "根据携程旅行网发布的数据"); a medium or a marketplace named before its product ("a Sirius XM
  radio show", "the Etsy shop"); a platform's disclaimer or a link home ("特别声明：...",
  "返回腾讯网首页"); a list of links to other stories (headlines the page cut short, "Uber &
  Lyft Could Hi...", two or more close together, and their full form elsewhere on the page);
  on Chinese portals, whatever follows the editor's line ("责任编辑：..."); a channel or a
  user account ("Disney Channel", "Pinterest user Hanna"); an event named after its sponsor
  ("Macy's Thanksgiving Day Parade"); a subsidiary's full Chinese name (中车太原机车车辆有限公司
  is not 中国中车); a copyright line ("...权益归腾讯所有", "Copyright © 2017 ..."); a variable in
  code ("$app = ...") is no cashtag, "U.N." no Reuters code; a service streamed or watched
  ("stream Netflix"), a shop people go to ("go to Walmart"), or one of a list after "on",
  "via", "at" or "from" ("rent on iTunes, Vudu, Amazon, YouTube"). A name that is also a
  common abbreviation ("SSE", server-sent events) needs context like an ordinary word.
* **Once is not enough** for a stock named a single time as one item of a list of names none of
  which is an asset ("names like Chime, Varo, SoFi, Current"), for an asset named a single time
  as an example after "like" or "such as" ("global banks like HSBC and JPMorgan Chase",
  "services like bitcoin", 腾讯等互联网公司) or as the maker of a part ("a brand new AMD
  graphics card", "an Intel Core i7 4790k CPU"); an asset named only so, however often ("the
  likes of Walmart", "competitors such as Walmart"), is not a subject either. An
  ambiguous English name is confirmed by another company named unambiguously in the same
  sentence ("Apple's card, Amazon's loans, Google's checking").

**Salience**: each asset records where it was found (``title``, ``lead`` — the first paragraph
of the text, ``body``) and how often; its salience is 3 for the title + 2 for the lead + one per
mention (at most 5) + 1 when written as a ticker or code. The stored list is ordered by salience.
Salience orders, it does not choose: an asset named once in the body is often one the article is
about (a rival, an index in a market wrap; 13 of the 15 such assets stored on the dev split), so
every rule that kept only the salient ones (title or lead, named twice, a share of the top
asset's salience, the top three...) lowered F1 on the dev split, losing four or more true assets
per false one removed (README, "Assets", third pass; ``bench/assets.py --split dev --sweep``).
Whether a mention counts is decided by its role (the rules above), not by how often it is named.
"""

from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Literal

import ahocorasick

from newsflow.stages.analysis._text import normalize
from newsflow.stages.analysis.assets import AssetTable, Kind, load_table
from newsflow.stages.analysis.keywords import cut_words

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
    ]
)
_EXCHANGES = {
    "NASDAQ": "US",
    "Nasdaq": "US",
    "NYSE": "US",
    "NYSEARCA": "US",
    "NYSE American": "US",
    "NYSE Arca": "US",
    "AMEX": "US",
    "OTC": "US",
    "OTCQX": "US",
    "OTCQB": "US",
    "BATS": "US",
    "HKEX": "HK",
    "SEHK": "HK",
    "HKG": "HK",
    "TPE": "TW",
    "TWSE": "TW",
    "SHA": "SS",
    "SSE": "SS",
    "SHE": "SZ",
    "SZSE": "SZ",
    "TYO": "T",
    "KRX": "KS",
    "KOSDAQ": "KQ",
    "ETR": "DE",
    "XETRA": "DE",
    "FRA": "DE",
    "EPA": "PA",
    "LON": "L",
    "LSE": "L",
    "AMS": "AS",
    "SWX": "SW",
    "SIX": "SW",
    "TSX": "TO",
}
# Every pattern below is a flat sequence of bounded or single character classes: no nested
# quantifiers, so matching time is linear in the text.
# Lookarounds use [A-Za-z0-9_], not \w: a ticker right after a Chinese character
# ("买入$BTC", "在BTC上涨时") is still a ticker.
#: Not a cashtag: a variable in code ("$app = new App()", "$app->get(", "$data[0]").
_CASHTAG = re.compile(
    r"(?<![A-Za-z0-9_$])\$([A-Za-z][A-Za-z0-9]{0,9}(?:\.[A-Z])?)(?![A-Za-z0-9_$])"
    r"(?!\s?=(?!=)|->|::|\[|\()"
)
_QUALIFIED = re.compile(
    r"(?<![A-Za-z0-9_])("
    + "|".join(sorted(map(re.escape, _EXCHANGES), key=len, reverse=True))
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
_UPPER = re.compile(
    r"(?<![A-Za-z0-9_$.&/\-])([A-Z][A-Z0-9]{0,5})(?![A-Za-z0-9_&]|[.\-][A-Za-z0-9])"
)
_SENTENCE_END = re.compile(r"[.!?。！？;；\n]")
#: Share and follow prompts ("Share on Facebook", "Follow NBC News on Twitter"): blanked
#: before matching, with the rest of their line.
_CHROME = re.compile(
    r"(?i)\b(?:share|post|pin|send|tweet|follow|get|like us|find us|connect with us|join us)"
    r"[\w@. ]{0,40}?\b(?:on |to |via |at )?(?:facebook|twitter|instagram|linkedin|whatsapp"
    r"|pinterest|reddit|telegram|youtube|tiktok|threads|weibo|wechat|e-?mail)\b[^\n]{0,80}"
    r"|分享到[^\n]{0,40}|分享至[^\n]{0,40}|关注我们[^\n]{0,40}|關注我們[^\n]{0,40}"
    # A platform's disclaimer and a link back to the site's home page ("返回腾讯网首页>>").
    r"|(?:特别声明|特別聲明|免责声明|免責聲明|Notice: The content above)[^\n]{0,300}"
    r"|返回[^\n]{0,12}首页|返回[^\n]{0,12}首頁"
    # A copyright line: "...中文相关权益归腾讯所有", "Copyright © 2017 Yahoo".
    r"|(?:版权|版權|权益|權益)(?:归|歸)[^\n]{0,30}所有[^\n]{0,80}"
    r"|(?:Copyright\s?)?©[^\n]{0,80}|Copyright\s(?:\(c\)\s)?\d{4}[^\n]{0,80}",
    re.ASCII,
)
#: A line made only of these words is a row of buttons ("Facebook Twitter Email").
_BUTTON_WORDS = frozenset(
    [
        "facebook",
        "twitter",
        "x",
        "instagram",
        "linkedin",
        "whatsapp",
        "pinterest",
        "reddit",
        "telegram",
        "youtube",
        "tiktok",
        "threads",
        "email",
        "e-mail",
        "print",
        "share",
        "comment",
        "comments",
        "copy",
        "link",
        "save",
        "tweet",
        "pin",
        "flipboard",
        "微信",
        "微博",
        "QQ空间",
        "分享",
        "朋友圈",
    ]
)
_LINE_WORD = re.compile(r"[A-Za-z\-]+|[\u4e00-\u9fff]+")
#: A price or a percentage, not a bare signed number ("NOT BETWEEN -1 AND 1" in SQL).
_PRICE_OR_PERCENT = re.compile(
    r"\$\s?\d|\d\s?%|\d\s?(?:美元|美金|港元|港币|港幣|元|USDT?\b|USD\b)", re.ASCII
)
_PRICE = re.compile(
    _PRICE_OR_PERCENT.pattern + r"|[+\-−]\d"
    r"|\b(?:up|down|rose|fell|gained|lost|jumped|slid|dropped|surged|rallied|plunged|tumbled"
    r"|climbed|soared|sank|shares|stock|stocks|price|prices|token|tokens|coin|coins|trading"
    r"|traded|ticker|ETF|futures|market cap)\b"
    r"|涨|漲|跌|股价|股價|币价|幣價|价格|價格|行情|市值|代币|代幣|股票",
    re.ASCII,
)
#: A price or a percentage, or a signed number (a move: "+3.2", "-1.5%").
_NUMERIC = re.compile(_PRICE_OR_PERCENT.pattern + r"|[+\-−]\d+(?:\.\d+)?%?", re.ASCII)
#: How far before a name the words that make it a medium are looked for.
MEDIUM_REACH = 20
#: "根据携程旅行网发布的数据": a company named as the source of figures.
_ZH_SOURCE_BEFORE = re.compile(r"(?:根据|根據|据|據)$")
_ZH_DATA_AFTER = re.compile(
    r"[\u4e00-\u9fff]{0,4}?(?:发布的|發布的|公布的)?(?:数据|數據|统计|統計)"
)
#: Words right after an ambiguous name that make it the company ("Apple Inc", "Apple shares").
_FOLLOWER = re.compile(
    r"-(?:owned|backed|controlled)\b"
    r"|(?:['’]s)?\s?(?:Inc\b|Inc\.|Corp\b|Corp\.|Corporation\b|Co\.|Ltd\b|plc\b|Platforms\b"
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
    r"|merger|subsidiary|company|company's|companies|firm|firms|incumbents"
    r"|(?:tech|retail|retailing|search|software|chip|internet|e-commerce|media|oil|energy"
    r"|banking|auto|pharma|payments)\sgiant"
    r"|retailer|automaker|carmaker"
    r"|maker|manufacturer|chipmaker|brand|customers|announced|unveiled|launched|rolled out"
    r"|rolling out|sued|lawsuit|regulators?|antitrust|IPO|listing|listed|settlement"
    r"|agreements?|statement|contracts?|partnership|negotiations?|e-tailer|online retailer"
    r"|headquartered|spokesperson|spokesman|spokeswoman|Big Tech)\b"
    r"|公司|集团|集團|股价|股價|股票|市值|财报|財報|营收|營收|发布|發布|推出|宣布|收购|收購|投资|投資"
    r"|首席执行官|執行長|董事长|董事長|品牌|用户|用戶|手机|手機|芯片|晶片|汽车|汽車"
    r"|合作|协议|協議|签约|簽約|上市|股东|股東|业绩|業績|净利|淨利",
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
#: ("Verizon Amphitheatre", "KeyBank Center", "Bridgestone Arena"), or part of a newspaper's
#: name ("The Hartford Courant", "Apple Daily", 苹果日报).
_VENUE_AFTER = re.compile(
    r"(?:['’]s)?\s(?:Arena|Amphitheatre|Amphitheater|Center|Centre|Stadium|Field|Park|Pavilion"
    r"|Theatre|Theater|Music Theatre|Hall|Bowl|Dome|Garden|Gardens|Coliseum|Speedway|Ballpark"
    r"|Open|Classic|Championship|Cup|Series|Finals|Grand Prix|Marathon|World|Resort"
    r"|Studio(?!\s[A-Z])"
    r"|Courant|Gazette|Herald|Tribune|Chronicle|Daily|Observer|Inquirer|Courier)\b"
    r"|大学|大學|学院|學院|中学|中學|体育场|體育場|体育馆|體育館|日报|日報|晚报|晚報"
    # An event named after its sponsor, a few words on: "Macy's Thanksgiving Day Parade".
    r"|(?:['’]s)?(?:\s[A-Z][a-z]+){0,3}\s(?:Parade|Marathon|Festival)\b",
    re.ASCII,
)
#: A name right after one of these is a medium or a shop: "on Facebook", "via Amazon", "took
#: to Twitter", "according to Reuters".
_MEDIUM_BEFORE = re.compile(
    r"(?i)\b(?:on|via|at|from|according\sto(?:\s(?:a|an|the))?|(?:took|take|takes|taking|taken|went|goes|turned"
    r"|turns|posted|posts|wrote|go|going)\sto|stream|streams|streamed|streaming|watch|watched"
    r"|watching)\s$",
    re.ASCII,
)
#: ... or one of a list right after one: "rent on iTunes, Vudu, Amazon, YouTube".
_MEDIUM_LIST_BEFORE = re.compile(
    r"\b(?:on|via|at|from)\s(?:(?:[A-Z]|[a-z][A-Z])[\w.&'\-]{0,20}(?:\s[A-Z][\w.&'\-]{0,20}){0,2},\s"
    r"(?:and\s|or\s)?)"
    r"{1,6}$",
    re.ASCII,
)
#: How far before a name a list after a medium preposition is looked for.
MEDIUM_LIST_REACH = 120
#: A name right before one of these is someone's employer ("Commerzbank analyst Carsten
#: Fritsch said"), or the maker of an index ("MSCI's gauge of world stocks"), not the subject.
_EMPLOYER_AFTER = re.compile(
    r"(?:'s)?\s(?:(?:chief|senior|lead|head|equity|market|markets|oil|commodity|commodities"
    r"|currency|credit|rates|investment|global|energy|auto|industry)\s){0,2}"
    r"(?:analysts?|strategists?|economists?|portfolio managers?|fund managers?)\b"
    r"|分析师|分析師|经济学家|經濟學家|策略师|策略師|首席投资官|首席投資官|投资总监|投資總監"
    r"|基金经理|基金經理|研究员|研究員",
    re.ASCII,
)
_INDEX_MAKER_AFTER = re.compile(
    r"'s\s(?:[A-Za-z\-]+\s){0,2}(?:gauges?|index|indices|indexes)\b", re.ASCII
)
#: ... or right after one of these: "an analyst at Jefferies", "works for Facebook",
#: "申请联合利华" (applying for a job there).
_EMPLOYER_BEFORE = re.compile(
    r"(?i)\b(?:(?:analysts?|strategists?|economists?|portfolio managers?|fund managers?)"
    r"\s(?:at|with)|(?:works?|worked|working|careers?|internships?|interns?)\s(?:at|for)"
    r"|(?:employed|hired)\sby)\s(?:the\s)?$|\bapplied\s(?:to|at|for)\s$|(?:申请|申請|投递|投遞|就职于"
    r"|就職於|任职于|任職於|供职于|供職於|入职|入職)$",
)
#: An index name before "futures" is the futures contract ("Japan's Nikkei futures lost").
_FUTURES_AFTER = re.compile(r"\s(?:index\s)?(?:futures|options)\b|期货|期貨", re.ASCII)
#: A company name before one of these is a medium: "a Netflix special", "a Facebook post"
#: (not "Netflix's shows": the possessive makes them the company's products).
_MEDIUM_AFTER = re.compile(
    r"\s(?:original\s|radio\s|TV\s|television\s|streaming\s)?(?:specials?|series|shows?"
    r"|documentar(?:y|ies)|films?|movies?|originals?|podcasts?|videos?|posts?|page|account|feed"
    r"|livestreams?|[Cc]hannel|profile|shops?|sellers?|storefronts?)\b"
    # "Pinterest user Hanna": someone's account there.
    r"|\suser\s(?=[A-Z@])",
    re.ASCII,
)
#: A company name before one of these is a part inside another product ("a brand new AMD
#: graphics card" in a MacBook review): named once so, the company is not the subject.
_COMPONENT_AFTER = re.compile(
    r"(?:\s(?:[A-Z0-9][A-Za-z0-9\-]*|[a-z]{1,2}\d[A-Za-z0-9\-]*)){0,3}\s"
    r"(?:graphics cards?|graphics chips?|GPUs?|CPUs?|processors?"
    r"|chipsets?|modems?|SoCs?|image sensors?|display panels?)\b"
    r"|(?:处理器|處理器|显卡|顯卡|基带|基帶)",
    re.ASCII,
)
#: "the Netflix of games", "the Uber of banking": a comparison, not the company.
_THE_BEFORE = re.compile(r"(?i)\bthe\s[\"“]?$")
_OF_AFTER = re.compile(r"[\"”]?\sof\b")
#: A deal sentence: a shop offering something at a price ("Amazon offers AirPods for $150").
_DEAL = re.compile(
    r"(?i)\b(?:offers?|offering|discounts?|discounted|deals?|sale|clearance|coupon|promo code"
    r"|free shipping|ships? free|down from|regularly|list price|shop now|buy now)\b",
)
_MONEY = re.compile(r"[$£€]\s?\d")
_POSSESSIVE = re.compile(r"[A-Za-z][\w.&\-]{0,40}(?:\s[A-Z][\w.&\-]{0,40})?'s\b", re.ASCII)
_OWN_PRODUCT = re.compile(r"'s\s(?:new\s|latest\s|own\s)?[A-Z]", re.ASCII)
#: A page title that is only a site's name: an asset name and a channel word ("网易娱乐",
#: "Yahoo Finance"), or that ends with one after a separator ("... -搜狐财经"); an asset found
#: only there is the publisher, not the subject.
_TITLE_SEPARATOR = re.compile(r"\s[-|–—·]\s|[_|｜–—]|\s-|-(?=\S{2,12}$)")
_SITE_WORD = re.compile(
    r"(?:娱乐|娛樂|新闻|新聞|财经|財經|科技|体育|體育|汽车|汽車|时尚"
    r"|時尚|健康|教育|房产|房產|网|網|首页|首頁|频道|頻道|博客|论坛|論壇|News|Finance|Money|Tech"
    r"|Technology|Entertainment|Sports|Online|Blog|Home)$"
)

#: A Chinese name at the head of a longer company name is a subsidiary or a unit named alone
#: (中车太原机车车辆有限公司 is not 中国中车); the listed company's own full name ends in 股份有限公司
#: or carries only 控股/集团 before 有限公司 (腾讯控股有限公司, 阿里巴巴集团控股有限公司).
_ZH_SUBSIDIARY_AFTER = re.compile(r"([\u4e00-\u9fff（）()]{2,14}?)(?<!股份)有限公司")
_ZH_PARENT_WORDS = frozenset("控股集团集團（）()")
#: A Chinese name right before 等 ("and others") is an example: 腾讯等互联网公司.
_ZH_EXAMPLE_AFTER = re.compile(r"等(?!待|级|級|到|于|於|候|同)")

#: Chinese names that are also the tail of other words.
ZH_GUARDS: dict[str, str] = {
    "京东": "北南",
    "京東": "北南",
    "百度": "一二三四五六七八九十几幾数數零两兩百千",
    "美的": "很真最好完甜",
}


#: Chinese names this short match only as a whole word of the segmented sentence: 国航 (Air
#: China) is not the one in 中国航天 or 法国航空, 道指 (the Dow) not the one in 报道指出.
ZH_SHORT_NAME = 2
#: Characters of context on each side that the segmenter sees around a short name.
ZH_WINDOW = 10


def _zh_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` is a whole word where rjieba (with the asset names in its
    dictionary) segments the text around it."""
    left = max(0, start - ZH_WINDOW)
    return _zh_word_in(text[left : min(len(text), end + ZH_WINDOW)], start - left, end - left)


@lru_cache(maxsize=4096)
def _zh_word_in(window: str, start: int, end: int) -> bool:
    # Cached: a name repeated in the same surroundings is segmented once.
    bounds = {0}
    position = 0
    for word in cut_words(window):
        position += len(word)
        bounds.add(position)
    return start in bounds and end in bounds


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
            # A name that is also a common abbreviation ("SSE": server-sent events) needs
            # context, like an ordinary word.
            entries.setdefault(name.lower(), []).append((symbol, name, name in table.acronyms))
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
            if code in table.acronyms or code in CURRENCIES or code.lower() in table.removed:
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
        #: ambiguous names without context: symbol, zone, position, sentence start and end
        self.pending: list[tuple[str, Zone, int, int, int]] = []
        #: Latin names inside a list of three or more names ("Lugg, Instacart, DoorDash, GrubHub")
        #: (symbol, start, end of the list)
        self.listed: list[tuple[str, int, int]] = []
        #: positions of mentions right before a component word ("AMD graphics card") or given
        #: as examples ("banks like HSBC and JPMorgan Chase")
        self.parts: set[int] = set()
        #: positions of the mentions that counted, per symbol
        self.positions: dict[str, list[int]] = {}
        #: unambiguous mentions of stocks: (position, symbol)
        self.mentions: list[tuple[int, str]] = []
        self.confirmed: dict[str, int] = {}  # ambiguous names with context, per symbol
        self.unambiguous: set[str] = set()  # symbols found by an unambiguous form
        self.checks: dict[str, list[int]] = {}  # ambiguous names: [examined, confirmed]
        self.neutral: dict[str, int] = {}  # ambiguous names as a medium ("from Facebook")

    def add(
        self,
        symbol: str,
        zone: Zone,
        position: int,
        *,
        explicit: bool = False,
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
        self.positions.setdefault(symbol, []).append(position)
        hit.explicit = hit.explicit or explicit
        if not ambiguous:
            self.unambiguous.add(symbol)
            if hit.kind == "stock":
                self.mentions.append((position, symbol))
        if zone not in hit.where:
            hit.where.append(zone)
        hit.first = min(hit.first, position)


def _market_of(symbol: str) -> str:
    suffix = symbol.rsplit(".", 1)[1] if "." in symbol else ""
    return {
        "HK": "HKEX",
        "TW": "TWSE",
        "TWO": "TPEx",
        "SS": "SSE",
        "SZ": "SZSE",
        "T": "TSE",
        "KS": "KRX",
        "KQ": "KOSDAQ",
    }.get(suffix, suffix or "US")


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
        for zone, part in _zones(pair_title, _article_only(pair_text)):
            part = _without_chrome(normalize(part).replace("’", "'"))
            scanned.append(part)
            _scan(part, zone, offset, found)
            offset += len(part) + 1
    _drop_list_examples(found)
    _resolve_pending(found, "\n".join(scanned))
    if title:
        _drop_site_name(found, normalize(title))
    hits = list(found.hits.values())
    for hit in hits:
        hit.where.sort(key=ZONES.index)
        hit.salience = float(
            sum(ZONE_WEIGHT[z] for z in hit.where)
            + min(hit.count, MAX_COUNTED_MENTIONS)
            + (1 if hit.explicit else 0)
        )
    hits.sort(key=lambda h: (-h.salience, h.first, h.symbol))
    return hits


def written_tickers(text: str) -> set[str]:
    """Every code ``text`` writes as a ticker, upper-cased: a cashtag (``$GME``), after an
    exchange (``NYSE: GME``, ``HKEX: 700``), or with its market suffix (``0700.HK``,
    ``7203.T``). A word before a colon ("UPDATE: CEO ...") is no exchange."""
    found = {m.group(1).upper() for m in _CASHTAG.finditer(text)}
    found |= {m.group(2) for m in _QUALIFIED.finditer(text)}
    found |= {f"{m.group(1)}.{m.group(2)}" for m in _SUFFIXED.finditer(text)}
    return found


def names_asset(symbol: str, text: str) -> bool:
    """Whether ``text`` names the known asset ``symbol`` (a symbol or listing code of the
    tables): one of its names, word by word and not in lower case (as written for a name in
    capitals: "AMD", "NIO"), a Chinese name anywhere, or its code standing alone where a bare
    ticker counts by itself (distinctive: ``NVDA``, ``BTC``; never ``A``, ``IT`` or ``CCI``). Nothing about
    role or context: this is for a symbol someone else (a model) chose, to check it is the
    article's and not invented."""
    matcher = _matcher()
    table = matcher.table
    known = symbol if symbol in table.assets else table.codes.get(symbol)
    asset = table.assets.get(known) if known else None
    if asset is None:
        return False
    if any(name in text for name in asset.zh | asset.zh_context):
        return True
    folded = text.lower()
    for name in asset.names | asset.context_names:
        haystack, needle = (text, name) if _needs_case(name) else (folded, name.lower())
        # a company name written in lower case ("apple pie") is the word, not the company
        if _as_word(text, haystack, needle, _capitalised):
            return True
    return any(
        _as_word(text, text, code.upper())
        for code in asset.codes
        if (bare := matcher.bare.get(code.upper())) is not None and bare[1] and bare[0] == known
    )


def _as_word(text: str, haystack: str, needle: str, written: Callable[[str], bool] = bool) -> bool:
    """Whether ``needle`` occurs in ``haystack`` (``text`` or a folded copy of it, index for
    index) as a word of ``text`` whose written form passes ``written``."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        if _word_bounded(text, start, end) and written(text[start:end]):
            return True
        start = haystack.find(needle, start + 1)
    return False


def extract_symbols(texts: Sequence[str | None]) -> list[str]:
    """The symbols named in ``texts`` (title, text, original title, original text...), most
    salient first, at most :data:`MAX_SYMBOLS`. The first text is the title."""
    parts = list(texts) + [None] * (len(texts) % 2)
    pairs = [(parts[i], parts[i + 1]) for i in range(0, len(parts), 2)]
    if not pairs:
        return []
    hits = find_assets(pairs[0][0], pairs[0][1], pairs[1:])
    return [h.symbol for h in hits][:MAX_SYMBOLS]


#: The line that closes an article on Chinese portals ("责任编辑：杨倩_NF4425"): what follows
#: is the page's (related headlines, other stories).
_EDITOR_LINE = re.compile(r"(?m)^[ \t]*(?:责任编辑|責任編輯)[:：]")


def _article_only(text: str | None) -> str | None:
    """The text up to the editor's line, if it has one, with its lists of links to other
    articles blanked."""
    if not text:
        return text
    if (m := _EDITOR_LINE.search(text)) and m.start() > 0:
        text = text[: m.start()]
    links = _link_lines(lines := text.split("\n"))
    if not links:
        return text
    for i in links:
        lines[i] = " " * len(lines[i])
    return "\n".join(lines)


def _drop_site_name(found: _Found, title: str) -> None:
    """An asset found only in the title, where the title is a site's name ("网易娱乐") or ends
    with one ("... -搜狐财经", "... | Yahoo Finance"), is the publisher, not the subject."""
    title = title.rstrip()
    if _site_name(title.strip()):
        site_from = 0
    else:
        tail = _TITLE_SEPARATOR.search(title, max(0, len(title) - 30))
        if tail is None or not _site_name(title[tail.end() :].strip()):
            return
        site_from = tail.end()
    for symbol, hit in list(found.hits.items()):
        if hit.where == ["title"] and hit.first >= site_from and not hit.explicit:
            del found.hits[symbol]


def _site_name(text: str) -> bool:
    """A name of at most 25 characters and a channel word: "网易娱乐", "Yahoo Finance"."""
    if len(text) > 40:
        return False
    word = _SITE_WORD.search(text)
    return word is not None and 0 < len(text[: word.start()].rstrip(" -_|·")) <= 25


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
    named = _names(text, zone, offset, found, taken)
    _bare(text, zone, offset, found, taken, named)


def _without_chrome(text: str) -> str:
    """The text with share/follow prompts and rows of buttons blanked (same length)."""
    text = _CHROME.sub(lambda m: " " * len(m.group()), text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        words = _LINE_WORD.findall(line)
        if len(words) >= 2 and all(w.lower() in _BUTTON_WORDS for w in words):
            lines[i] = " " * len(line)
    return "\n".join(lines)


#: A headline cut short by the page ("Riders Beware: Uber & Lyft Could Hi...").
_TRUNCATED = re.compile(r"(?:\.\.\.|…)$")
#: Longest line taken for a cut headline, and how close two of them must be.
LINK_LINE_MAX = 80
LINK_LINE_GAP = 3
#: Shortest cut headline whose full form is looked for on other lines.
LINK_PREFIX_MIN = 12
LINK_PREFIXES_PER_HEAD = 8


def _link_lines(lines: list[str]) -> list[int]:
    """Lines of a list of links to other articles: headlines the page cut short ("Uber & Lyft
    Could Hi...", "十年之内取代iPhone，苹果要换赛道了..."), two or more within a few lines of
    each other, and the full form of such a headline wherever the page repeats it."""
    cut = [
        i
        for i, line in enumerate(lines)
        if 0 < len(stripped := line.strip()) <= LINK_LINE_MAX and _TRUNCATED.search(stripped)
    ]
    marked = [
        i
        for k, i in enumerate(cut)
        if (k > 0 and i - cut[k - 1] <= LINK_LINE_GAP)
        or (k + 1 < len(cut) and cut[k + 1] - i <= LINK_LINE_GAP)
    ]
    heads: dict[str, set[str]] = {}
    for i in marked:
        prefix = lines[i].strip().rstrip(".…").rstrip()
        if len(prefix) < LINK_PREFIX_MIN:
            continue
        same_head = heads.setdefault(prefix[:LINK_PREFIX_MIN], set())
        # A few per head keep the pass linear when a page repeats one opening many times.
        if len(same_head) < LINK_PREFIXES_PER_HEAD:
            same_head.add(prefix)
    if not heads:
        return marked
    repeated = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if any(stripped.startswith(p) for p in heads.get(stripped[:LINK_PREFIX_MIN], ())):
            repeated.append(i)
    return sorted(set(marked) | set(repeated))


def _explicit(
    text: str, zone: Zone, offset: int, found: _Found, taken: list[tuple[int, int]]
) -> None:
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
        # One letter: "U.N." and "U.S." are abbreviations far more often than codes.
        return codes.get(base) if base.isalpha() and len(base) > 1 else None
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


def _within(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    """Whether ``span`` lies inside one of ``spans`` (sorted, not overlapping)."""
    i = bisect.bisect_right(spans, (span[0], sys.maxsize)) - 1
    return i >= 0 and spans[i][0] <= span[0] and span[1] <= spans[i][1]


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(s <= span[0] < e or s < span[1] <= e for s, e in taken)


def _names(
    text: str, zone: Zone, offset: int, found: _Found, taken: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Find the names in ``text``; returns the spans of the names it judged, in text order."""
    named: list[tuple[int, int]] = []
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
        # Judged here, whatever the outcome: the bare-ticker pass must not count "HSBC" again.
        named.append((start, end + 1))
        if cjk and start and text[start - 1] in ZH_GUARDS.get(key, ""):
            continue
        if cjk and len(key) <= ZH_SHORT_NAME and not _zh_word(text, start, end + 1):
            continue
        if _VENUE_AFTER.match(text, end + 1):
            continue
        if (
            cjk
            and (sub := _ZH_SUBSIDIARY_AFTER.match(text, end + 1))
            and set(sub.group(1)) - _ZH_PARENT_WORDS
        ):
            continue
        for symbol, name, ambiguous in entries:
            if _not_the_subject(found, symbol, text, start, end + 1):
                break
            if not cjk and (run := _in_name_list(text, start, end + 1)):
                found.listed.append((symbol, offset + run[0], offset + run[1]))
            if (
                _COMPONENT_AFTER.match(text, end + 1)
                or (not cjk and _example(text, start))
                or (cjk and _ZH_EXAMPLE_AFTER.match(text, end + 1))
            ):
                found.parts.add(offset + start)
            if not ambiguous and (cjk or written == name or not _needs_case(name)):
                if (
                    not cjk
                    and not _capitalised(written)
                    and (found.matcher.table.kind(symbol) != "crypto")
                ):
                    continue  # "best buy", "global payments": a company name is capitalised
                if not cjk and _as_medium(text, start) and not _FOLLOWER.match(text, end + 1):
                    continue
                found.add(symbol, zone, offset + start)
                break
            if ambiguous and written == name:
                if _confirmed(found, symbol, text, start, end + 1):
                    found.confirmed[symbol] = found.confirmed.get(symbol, 0) + 1
                    found.add(symbol, zone, offset + start, ambiguous=True)
                else:
                    # For the neighbour rule: Latin names only (a Chinese one is often an
                    # ordinary word: 联想, 苹果), and not a medium ("took to Twitter").
                    left, right = (0, 0)
                    if not cjk and _as_medium(text, start):
                        # "traffic from Facebook": says nothing either way about the company.
                        found.neutral[symbol] = found.neutral.get(symbol, 0) + 1
                    elif not cjk:
                        left, right = _sentence_span(text, start, end + 1)
                    found.pending.append(
                        (symbol, zone, offset + start, offset + left, offset + right)
                    )
                break
    return named


def _not_the_subject(found: _Found, symbol: str, text: str, start: int, end: int) -> bool:
    """A mention that names the asset in another role: someone's employer, the maker of an
    index, a futures contract on an index, a comparison ("the Netflix of games"), a shop in a
    deal ("Amazon offers AirPods for $150")."""
    asset = found.matcher.table.assets.get(symbol)
    kind = asset.kind if asset else "stock"
    before = text[max(0, start - 40) : start]
    if kind == "index":
        return bool(_FUTURES_AFTER.match(text, end))
    if _EMPLOYER_AFTER.match(text, end) or _EMPLOYER_BEFORE.search(before):
        return True
    if kind == "stock" and _INDEX_MAKER_AFTER.match(text, end):
        return True
    if _THE_BEFORE.search(before) and _OF_AFTER.match(text, end):
        return True
    if _MEDIUM_AFTER.match(text, end):
        return True
    if _ZH_SOURCE_BEFORE.search(before) and _ZH_DATA_AFTER.match(text, end):
        return True
    if symbol in found.matcher.table.shops and not _OWN_PRODUCT.match(text, end):
        # "Amazon's Echo for $25" is its own product: it is the maker there.
        sentence = _sentence(text, start, end)
        return bool(_DEAL.search(sentence) and _MONEY.search(sentence))
    return False


#: Mentions of one ambiguous name whose context is examined; later ones follow the majority
#: (a text repeating "Apple" thousands of times costs no more than one repeating it twenty).
MAX_CONTEXT_CHECKS = 20


def _as_medium(text: str, start: int) -> bool:
    """The name at ``start`` follows a medium's preposition or verb ("on Netflix", "took to
    Twitter", "watch Netflix"), directly or as one of a list after it ("rent on iTunes, Vudu,
    Amazon")."""
    if _MEDIUM_BEFORE.search(text, max(0, start - MEDIUM_REACH), start):
        return True
    # A later item of a list: a comma right before ("Vudu, Amazon", "YouTube, and Google").
    tail = text[max(0, start - 6) : start]
    return ("," in tail) and bool(
        _MEDIUM_LIST_BEFORE.search(text, max(0, start - MEDIUM_LIST_REACH), start)
    )


def _confirmed(found: _Found, symbol: str, text: str, start: int, end: int) -> bool:
    checks = found.checks.setdefault(symbol, [0, 0])  # [examined, confirmed]
    if checks[0] >= MAX_CONTEXT_CHECKS:
        return 3 * checks[1] >= checks[0]
    kind = found.matcher.table.assets[symbol].kind
    medium = _as_medium(text, start)
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


def _capitalised(written: str) -> bool:
    """No word of a company or index name is all lower case ("Best Buy", "BEST BUY", "S&P 500",
    "eBay", not "best buy" or "global payments"). Crypto names are exempt: "bitcoin" is
    written in lower case as often as not."""
    return all(not w[0].isalpha() or not w.islower() for w in written.split())


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
    left, right = _sentence_span(text, start, end)
    return text[left:right]


def _sentence_span(text: str, start: int, end: int) -> tuple[int, int]:
    left = max(0, start - 200)
    right = min(len(text), end + 200)
    lm = None
    for lm in _SENTENCE_END.finditer(text, left, start):  # noqa: B007 - keeps the last one
        pass
    s = lm.end() if lm else left
    rm = _SENTENCE_END.search(text, end, right)
    e = rm.start() if rm else right
    return s, e


def _bare(
    text: str,
    zone: Zone,
    offset: int,
    found: _Found,
    taken: list[tuple[int, int]],
    named: list[tuple[int, int]],
) -> None:
    bare = found.matcher.bare
    shouting: dict[int, bool] = {}  # line start -> all capitals, computed once per line
    for m in _UPPER.finditer(text):
        entry = bare.get(m.group(1))
        if entry is None or _inside(m.span(), taken) or _within(m.span(), named):
            continue
        symbol, distinctive = entry
        line = text.rfind("\n", 0, m.start()) + 1
        if line not in shouting:
            shouting[line] = _shouting(text, line)
        if shouting[line]:
            continue
        if _not_the_subject(found, symbol, text, m.start(), m.end()):
            continue
        word = m.group(1).lower() in found.matcher.table.common_words
        if (distinctive and not word) or _ticker_context(text, m.start(), m.end(), found, word):
            if _example(text, m.start()):
                found.parts.add(offset + m.start())
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
    # Only on the ticker's own line: a heading's neighbour ("weigh up.\nCMS's") says nothing.
    line_start = text.rfind("\n", max(0, start - 25), start) + 1
    line_end = text.find("\n", end, end + 25)
    line_end = end + 25 if line_end < 0 else line_end
    reach = 15 if word else 25
    # A ticker that is also a word (ONE, NOT) needs a price or a percentage.
    numeric = _PRICE_OR_PERCENT if word else _NUMERIC
    if numeric.search(text, max(line_start, start - reach), min(line_end, end + reach)):
        return True
    window = text[max(line_start, start - 25) : line_end]
    if not word and _PRICE.search(window):
        return True
    bare = found.matcher.bare
    return any(
        n.group(1) != text[start:end]
        and n.group(1) in bare
        and bare[n.group(1)][1]
        and n.group(1).lower() not in found.matcher.table.common_words
        for n in _UPPER.finditer(window)
    )


#: One short capitalised list item, stripped ("Instacart", "and Prime Now", "A: Bleacher Report").
#: Bounded words: the pattern stays linear whatever the text.
_LIST_ITEM = re.compile(
    r"(?:(?:and|or|&)\s)?[\"“]?[A-Z0-9][\w&'.!\-]{0,30}:?(?:\s[A-Z0-9][\w&'.!\-]{0,30}){0,3}"
    r"[\"”]?[.!?]?$",
    re.ASCII,
)
_LIST_SPLIT = re.compile(r"[,;]")


def _in_name_list(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The span of the run of three or more comma-separated short capitalised items the name
    is one of ("Enter Lugg, Instacart, DoorDash, GrubHub, Prime Now, and Homejoy"), if any."""
    if text.count(",", max(0, start - 200), end + 200) < 2:
        return None  # the common case, without looking for the sentence
    left, right = _sentence_span(text, start, end)
    if text.count(",", left, right) < 2:
        return None
    # Item i spans text[cuts[i] : cuts[i + 1] - 1]
    cuts = [left] + [m.end() for m in _LIST_SPLIT.finditer(text, left, right)] + [right + 1]
    items = [text[cuts[i] : cuts[i + 1] - 1] for i in range(len(cuts) - 1)]
    at = text.count(",", left, start) + text.count(";", left, start)
    if not _LIST_ITEM.match(items[at].strip()):
        return None
    first = last = at
    while first > 0 and _LIST_ITEM.match(items[first - 1].strip()):
        first -= 1
    while last + 1 < len(items) and _LIST_ITEM.match(items[last + 1].strip()):
        last += 1
    if last - first + 1 < 3:
        return None
    return cuts[first], cuts[last + 1] - 1


#: "like", "such as", "the likes of", after a space or opening a line ("Like Walmart, Uber ...").
_EXAMPLE_WORDS = re.compile(r"(?:(?<=\s)|^)(?:[Ll]ike|such as|the likes of)\s", re.MULTILINE)
_EXAMPLE_SPLIT = re.compile(r",\s(?:and\s|or\s)?|\s(?:and|or)\s")


def _example(text: str, start: int) -> bool:
    """The name follows "like" or "such as", alone or in a list of names right after it:
    "services like bitcoin or Apple Pay", "global banks like HSBC and JPMorgan Chase"."""
    before = text[max(0, start - 80) : start]
    if "ike" not in before and "such as" not in before:  # the common case, without a regex
        return False
    last = None
    for last in _EXAMPLE_WORDS.finditer(before):  # noqa: B007 - keeps the last one
        pass
    if last is None:
        return False
    between = before[last.end() :]
    if between and last.group().startswith("Like"):
        return False  # "Like Walmart, Uber underpays ...": only the first name is compared
    if between.startswith("the "):  # "places like the Hyundai plant"
        between = between[4:]
    if not between:
        return True
    if any(c in between for c in ".;:!?\n"):
        return False
    items = _EXAMPLE_SPLIT.split(between)
    return items[-1] == "" and all(_LIST_ITEM.match(i.strip()) for i in items[:-1])


def _other_between(mentions: list[tuple[int, str]], left: int, right: int, symbol: str) -> bool:
    """Whether ``mentions`` (sorted by position) hold another symbol in [left, right)."""
    i = bisect.bisect_left(mentions, (left, ""))
    while i < len(mentions) and mentions[i][0] < right:
        if mentions[i][1] != symbol:
            return True
        i += 1
    return False


def _drop_list_examples(found: _Found) -> None:
    """A stock named once, as one item of a list of names where no other item is a known
    asset, is an example ("names like Chime, Varo, SoFi, Current"), not a subject. A list of
    assets ("Pepsi, Coca-Cola, Costco and Winnebago raised prices") keeps its members. An
    asset named only as the maker of a part ("a brand new AMD graphics card") or as an example
    after "like", "such as" or "the likes of" ("banks like HSBC and JPMorgan Chase"), however
    often, is dropped too."""
    dropped: set[str] = set()
    for symbol, candidate in found.hits.items():
        if not candidate.explicit and all(
            p in found.parts for p in found.positions.get(symbol, ())
        ):
            dropped.add(symbol)
    mentions = sorted(found.mentions)
    for symbol, left, right in found.listed:
        hit = found.hits.get(symbol)
        if hit is None or hit.count != 1 or hit.kind != "stock" or hit.explicit:
            continue
        if not _other_between(mentions, left, right, symbol):
            dropped.add(symbol)
    for symbol in dropped:
        del found.hits[symbol]
        found.unambiguous.discard(symbol)
    if dropped:
        found.mentions = [m for m in found.mentions if m[1] not in dropped]


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
    Ford, twice near a company word, is not Ford Motor. A mention as a medium ("traffic from
    Facebook") counts neither way."""
    clued = {
        s
        for s in {p[0] for p in found.pending} | set(found.hits)
        if s not in found.unambiguous and _has_clue(found, s, texts)
    }
    found.unambiguous |= clued
    # Another company named unambiguously in the same sentence confirms an ambiguous company
    # name ("Apple's credit card, Amazon's loans, Google's checking accounts"), unless the name
    # opens the sentence, where any word is capitalised ("Target prices for Nvidia ..."), and
    # is not a possessive there.
    still: list[tuple[str, Zone, int, int, int]] = []
    mentions = sorted(found.mentions)
    for entry in found.pending:
        symbol, zone, position, left, right = entry
        asset = found.matcher.table.assets[symbol]
        if (
            symbol not in found.unambiguous
            and asset.kind == "stock"
            and (texts[left:position].strip() or _POSSESSIVE.match(texts, position))
            and _other_between(mentions, left, right, symbol)
        ):
            found.confirmed[symbol] = found.confirmed.get(symbol, 0) + 1
            found.add(symbol, zone, position, ambiguous=True)
        else:
            still.append(entry)
    found.pending = still
    unconfirmed: dict[str, int] = {}
    for symbol, *_ in found.pending:
        unconfirmed[symbol] = unconfirmed.get(symbol, 0) + 1
    for symbol in list(found.hits):
        if symbol in found.unambiguous:
            continue
        confirmed = found.confirmed.get(symbol, 0)
        against = unconfirmed.get(symbol, 0) - found.neutral.get(symbol, 0)
        if 3 * confirmed < confirmed + against:
            del found.hits[symbol]
    for symbol, zone, position, *_ in found.pending:
        if symbol in found.unambiguous:
            found.add(symbol, zone, position)
