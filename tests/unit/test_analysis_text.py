"""Word count, keywords, category and the combined analyze_text."""

from __future__ import annotations

import pytest

from newsflow.stages.analysis import (
    TextAnalysis,
    analyze_text,
    categorize,
    extract_keywords,
    warm_up,
    word_count,
)
from newsflow.stages.analysis.category import language_code, topic_scores
from newsflow.stages.analysis.keywords import MAX_KEYWORDS

FED = (
    "The Federal Reserve kept interest rates unchanged on Wednesday. Federal Reserve Chair "
    "Jerome Powell said inflation remains elevated. Stocks rose after the decision. Jerome "
    "Powell told reporters the Federal Reserve would watch the labor market. The stock market "
    "rallied, and bank stocks led the gains as inflation expectations eased."
)

# --- word_count -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("", None, 0),
        ("   \n\t ", "en", 0),
        ("The quick brown fox jumps.", "en", 5),
        ("It's a well-known U.S. fact — 10,000 times!", "en", 7),  # the dash is no word
        ("比特币突破十万美元。", "zh", 9),  # 9 characters, the full stop is not a word
        ("比特幣價格創新高", "zh-TW", 8),
        ("英伟达 Q3 earnings beat", "zh", 6),  # 3 CJK characters + 3 words
        ("Nvidia的股价上涨5%", None, 7),  # Nvidia + 的股价上涨 + 5%
        ("日本銀行は追加利上げを決めた。", "ja", 14),  # kanji and kana alike
        ("ｆｕｌｌｗｉｄｔｈ ｗｏｒｄｓ", "en", 2),  # NFKC folds full-width Latin
        ("서울의 날씨가 좋다", "ko", 3),  # Korean separates words with spaces
    ],
)
def test_word_count(text: str, language: str | None, expected: int) -> None:
    assert word_count(text, language) == expected


def test_word_count_ignores_the_language_label_for_mixed_text() -> None:
    text = "比特币 price 突破"
    assert word_count(text, "en") == word_count(text, "zh") == word_count(text) == 6


# --- keywords -------------------------------------------------------------------------------


def test_english_keywords_are_lower_case_phrases_and_words_without_stop_words() -> None:
    keywords = extract_keywords("Fed holds rates steady as inflation lingers", FED)
    assert keywords[0] == "federal reserve"
    assert {"inflation", "jerome powell", "stock", "rates"} <= set(keywords)
    assert all(k == k.lower() for k in keywords)
    assert not {"the", "said", "would", "wednesday", "jerome", "powell"} & set(keywords)
    assert len(keywords) <= MAX_KEYWORDS


@pytest.mark.parametrize(
    ("title", "text", "must", "must_not"),
    [
        # plural folded into the singular seen in the same text
        (None, "Stocks fell. The stock dropped. Stocks slid.", {"stock"}, {"stocks"}),
        # a name with a connector, once at the start of a sentence
        (
            None,
            "The Bank of England raised rates. The Bank of England said so.",
            {"bank of england"},
            {"the bank of england"},
        ),
        # two-letter acronyms count, two-letter words do not
        (None, "AI chips. AI demand. We go on. We go on.", {"ai"}, {"go", "we"}),
        # a word once in the body is not a keyword; a title word is
        ("Tariffs", "A lone mention of zebras here.", {"tariffs"}, {"zebras", "lone"}),
        # possessives are folded
        (None, "Nvidia's chips. Nvidia's lead. Nvidia said.", {"nvidia"}, {"nvidia's"}),
    ],
)
def test_english_keyword_rules(
    title: str | None, text: str, must: set[str], must_not: set[str]
) -> None:
    keywords = set(extract_keywords(title, text))
    assert must <= keywords
    assert not must_not & keywords


def test_chinese_keywords_simplified() -> None:
    text = (
        "比特币价格周二突破十万美元，创下历史新高。分析师表示，比特币ETF资金持续流入，推动比特币"
        "价格上涨。美联储主席鲍威尔表示，美联储将继续关注通胀。"
    )
    keywords = extract_keywords("比特币价格突破十万美元", text)
    assert keywords[:2] == ["比特币", "价格"]
    assert "美联储" in keywords
    assert "表示" not in keywords  # a stop word of news prose
    assert all(len(k) >= 2 for k in keywords)


def test_chinese_keywords_traditional_keep_asset_names_whole() -> None:
    text = "比特幣價格週二創新高，輝達股價上漲。比特幣ETF資金流入，輝達市值再創新高。"
    keywords = extract_keywords(None, text)
    assert {"比特幣", "輝達"} <= set(keywords)


def test_japanese_keywords_from_kanji_and_katakana_runs() -> None:
    text = (
        "日本銀行は金融政策決定会合で追加利上げを決めた。植田総裁は記者会見で述べた。"
        "日本銀行の決定を受けて円相場は動いた。植田総裁は物価に言及した。"
    )
    keywords = extract_keywords(None, text)
    assert keywords[:2] == ["日本銀行", "植田総裁"]
    assert not any(k in keywords for k in ("は", "を", "決めた"))  # kana end a term


def test_mixed_chinese_text_keeps_latin_terms() -> None:
    text = "比特币ETF获批。比特币ETF资金流入。ETF规模扩大。"
    assert {"etf", "比特币"} <= set(extract_keywords(None, text))


def test_keywords_are_deterministic_and_bounded() -> None:
    text = " ".join(f"term{i} term{i}" for i in range(40))  # 40 ties
    first = extract_keywords(None, text)
    assert first == extract_keywords(None, text)
    assert first == [f"term{i}" for i in range(MAX_KEYWORDS)]  # ties: first mentioned first
    assert extract_keywords(None, text, limit=3) == first[:3]


@pytest.mark.parametrize("text", ["", "   ", "!!! ??? 。。。", "a the of and"])
def test_keywords_of_empty_or_contentless_text(text: str) -> None:
    assert extract_keywords(None, text) == []


# --- category -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "en"),
        ("zh-TW", "zh"),
        ("zh_Hant", "zh"),
        ("JA", "ja"),
        (None, "und"),
        ("", "und"),
        ("??", "und"),
        ("english-ish", "und"),
    ],
)
def test_language_code(language: str | None, expected: str) -> None:
    assert language_code(language) == expected


@pytest.mark.parametrize(
    ("title", "text", "language", "symbols", "expected"),
    [
        (
            "Bitcoin tops $100,000",
            "Bitcoin rose as crypto funds drew inflows and stablecoin supply grew.",
            "en",
            ["BTC"],
            "en_crypto",
        ),
        (
            "Stocks rally as Fed signals rate cuts",
            (
                "The S&P 500 index rose; Treasury yields "
                "fell and investors bet on lower interest rates."
            ),
            "en",
            [],
            "en_markets",
        ),
        (
            "Nvidia unveils new AI chip",
            "The GPU targets data centers running artificial intelligence software.",
            "en",
            [],
            "en_tech",
        ),
        ("Local team wins the cup", "The match ended 2-1 after extra time.", "en", [], "en_news"),
        (
            "比特币突破十万美元",
            "比特币价格创新高，加密货币市场全面上涨，区块链概念股走强。",
            "zh",
            ["BTC"],
            "zh_crypto",
        ),
        (
            "美联储宣布降息",
            "美联储宣布降息25个基点，美股三大指数上涨，投资者关注通胀数据。",
            "zh-CN",
            [],
            "zh_markets",
        ),
        ("台北天氣晴朗", "今天台北天氣晴朗，市民出遊。", "zh-TW", [], "zh_news"),
        ("Bitcoin", "Bitcoin.", None, ["BTC"], "und_crypto"),
    ],
)
def test_category(
    title: str, text: str, language: str | None, symbols: list[str], expected: str
) -> None:
    assert categorize(title=title, text=text, language=language, symbols=symbols) == expected


def test_category_is_news_when_two_topics_are_close() -> None:
    title = "Bitcoin and stocks both rise"
    text = "Bitcoin and crypto rose. Stocks and the index rose as investors cheered."
    scores = topic_scores(title, text, [])
    assert scores["crypto"] > 0 and scores["markets"] > 0
    assert categorize(title=title, text=text, language="en") == "en_news"


# --- analyze_text ---------------------------------------------------------------------------


def test_analyze_text_english_translation_of_a_chinese_article() -> None:
    result = analyze_text(
        title="Huida shares hit a record as Bitcoin rallies",
        text="Huida's market value rose. Bitcoin crossed $100,000 and crypto markets rallied. "
        "Bitcoin funds drew inflows.",
        language="zh",
        original_title="輝達股價創新高，比特幣上漲",
        original_text="輝達市值上升。比特幣突破十萬美元，加密貨幣市場上漲。",
    )
    assert isinstance(result, TextAnalysis)
    assert result.symbols == ["BTC", "NVDA"]  # NVDA only from the original's 輝達
    assert result.word_count == 15  # the English text passed in
    assert result.category == "zh_crypto"  # source language, topic from the text
    assert "bitcoin" in result.keywords


def test_analyze_text_untranslated_chinese() -> None:
    result = analyze_text(
        title="英伟达股价创新高",
        text="英伟达股价周二创新高，市值突破四万亿美元。英伟达芯片需求强劲。",
        language="zh",
    )
    assert result.symbols == ["NVDA"]
    assert result.word_count == 28  # characters
    assert result.keywords[0] == "英伟达"
    assert result.category is not None and result.category.startswith("zh_")


def test_analyze_text_empty_text_is_not_an_error() -> None:
    result = analyze_text(title=None, text="", language=None)
    assert result == TextAnalysis(word_count=0, symbols=[], keywords=[], category="und_news")


def test_untranslated_article_passed_twice_counts_once() -> None:
    title, text = "英伟达股价创新高", "英伟达股价创新高，比特币上涨。"
    twice = analyze_text(
        title=title, text=text, language="zh", original_title=title, original_text=text
    )
    assert twice == analyze_text(title=title, text=text, language="zh")


def test_warm_up_then_analyze() -> None:
    warm_up()
    assert analyze_text(title=None, text="比特币", language="zh").symbols == ["BTC"]
