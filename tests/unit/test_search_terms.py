"""Search terms (newsflow.domain.search): English words and Chinese bigrams together."""

from __future__ import annotations

from newsflow.domain.search import MAX_TERMS, article_terms, most_selective, query_terms, tokens


def test_english_words_are_folded_and_stopwords_dropped() -> None:
    assert tokens("The Fed's RATE cut, and ＥＴＦ flows") == ["fed", "rate", "cut", "etf", "flows"]


def test_chinese_is_indexed_by_bigrams() -> None:
    assert tokens("比特币价格") == ["比特", "特币", "币价", "价格"]
    assert tokens("涨") == ["涨"]  # a lone character is kept


def test_mixed_text_keeps_both() -> None:
    assert tokens("BTC突破10万美元") == ["btc", "突破", "10", "万美", "美元"]


def test_a_chinese_query_matches_the_text_it_came_from() -> None:
    text = article_terms("比特币因交易所交易基金预期而大涨", "投资者对现货交易所交易基金感到乐观")
    for query in ("比特币", "交易所", "乐观", "大涨"):
        assert set(query_terms(query)) <= set(text), query
    assert not set(query_terms("以太坊")) <= set(text)


def test_terms_are_capped_and_distinct() -> None:
    many = " ".join(f"word{i}" for i in range(MAX_TERMS * 2))
    terms = article_terms("title words", many)
    assert len(terms) == MAX_TERMS == len(set(terms))
    assert terms[:2] == ["title", "words"]  # the title first


def test_most_selective_prefers_long_words() -> None:
    assert most_selective(["rate", "cut", "inflation"]) == "inflation"
    assert most_selective(["btc", "突破"]) == "突破"
    assert query_terms("the and of") == []


def test_every_word_of_a_long_query_is_a_term() -> None:
    # Terms past the eighth were dropped: a query ending in a word no article holds still
    # found articles (outside review).
    query = "new york state attorney general investigating wework former zzzznotthere"
    assert query_terms(query)[-1] == "zzzznotthere"
    assert len(query_terms(query)) == 9
