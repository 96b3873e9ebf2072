"""Splitting article text into chunks for translation, and reading answers back."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.stages.translation import (
    chunk_text,
    split_answer,
    split_long_paragraph,
    split_paragraphs,
    split_sentences,
)
from tests.support.regex_audit import time_limit


def _size(chunk: list) -> int:
    return len("\n\n".join(s.text for s in chunk))


def test_paragraphs_are_lines_and_blank_lines_are_dropped() -> None:
    assert split_paragraphs("one\n\n  two  \n\nthree\nfour\n") == ["one", "two", "three", "four"]


def test_short_text_is_one_chunk_with_every_paragraph() -> None:
    chunks = chunk_text("a b c.\nd e f.\ng h i.", 200)
    assert len(chunks) == 1
    assert [s.text for s in chunks[0]] == ["a b c.", "d e f.", "g h i."]
    assert [s.paragraph for s in chunks[0]] == [0, 1, 2]


def test_chunks_break_at_paragraph_boundaries_within_the_limit() -> None:
    paragraphs = [f"Paragraph {i} " + "word " * 20 for i in range(12)]
    chunks = chunk_text("\n".join(paragraphs), 300)
    assert len(chunks) > 1
    assert all(_size(c) <= 300 for c in chunks)
    # Every paragraph arrives whole and in order.
    assert [s.text for c in chunks for s in c] == [p.strip() for p in paragraphs]


def test_over_long_paragraph_is_cut_at_sentence_ends() -> None:
    sentences = [f"Sentence number {i} says something about markets." for i in range(20)]
    paragraph = " ".join(sentences)
    pieces = split_long_paragraph(paragraph, 200)
    assert len(pieces) > 1
    assert all(len(p) <= 200 for p in pieces)
    assert all(p.endswith(".") for p in pieces)  # no sentence is cut in the middle
    assert " ".join(pieces) == paragraph


def test_chinese_sentences_end_at_chinese_punctuation() -> None:
    text = "公司宣布利润增长。股价上涨了！投资者是否满意？“是的。”最后一句"
    assert split_sentences(text) == [
        "公司宣布利润增长。",
        "股价上涨了！",
        "投资者是否满意？",
        "“是的。”",
        "最后一句",
    ]
    pieces = split_long_paragraph(text * 10, 60)
    assert all(len(p) <= 60 for p in pieces)
    assert "".join(pieces) == text * 10


def test_latin_period_inside_a_number_does_not_end_a_sentence() -> None:
    assert split_sentences("Growth was 3.5 percent. Then it fell.") == [
        "Growth was 3.5 percent.",
        " Then it fell.",
    ]


def test_a_giant_sentence_is_cut_at_spaces_or_anywhere() -> None:
    words = "word " * 100
    pieces = split_long_paragraph(words.strip(), 50)
    assert all(len(p) <= 50 for p in pieces)
    assert all(not p.startswith(" ") for p in pieces)
    unbroken = "x" * 130
    assert split_long_paragraph(unbroken, 50) == ["x" * 50, "x" * 50, "x" * 30]


def test_pieces_of_a_long_paragraph_keep_their_paragraph_index() -> None:
    text = "Short intro.\n" + " ".join(["A fairly long sentence about trade."] * 30) + "\nEnd."
    chunks = chunk_text(text, 250)
    indexes = [s.paragraph for c in chunks for s in c]
    assert indexes[0] == 0 and indexes[-1] == 2
    assert indexes.count(1) > 1  # the middle paragraph was cut into pieces
    assert indexes == sorted(indexes)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from(list("ab c.。！ 公司\n")), min_size=1, max_size=900),
        min_size=1,
        max_size=8,
    ),
    st.integers(min_value=200, max_value=1000),
)
def test_chunking_never_exceeds_the_limit_and_loses_nothing(parts: list[str], limit: int) -> None:
    text = "\n".join(parts)
    chunks = chunk_text(text, limit)
    assert all(_size(c) <= limit for c in chunks)
    assert all(s.text.strip() == s.text and s.text for c in chunks for s in c)
    kept = "".join(s.text for c in chunks for s in c)
    assert re.sub(r"\s", "", kept) == re.sub(r"\s", "", text)


def test_answers_split_on_blank_lines_or_on_lines_when_that_fits() -> None:
    assert split_answer("one\n\ntwo\n\nthree", 3) == ["one", "two", "three"]
    assert split_answer("one\ntwo\nthree", 3) == ["one", "two", "three"]
    assert split_answer("one\ntwo\n\nthree", 2) == ["one\ntwo", "three"]


def test_runs_of_punctuation_are_split_in_linear_time() -> None:
    # The review's article: one paragraph of 20,000 dots stalled the translator 12 s before any
    # call (the sentence splitter was quadratic in a run of dots); 1 MB took hours.
    for paragraph in ("中文。" + "." * 100_000 + "x", "a" + "!?" * 50_000 + "b", ". " * 50_000):
        with time_limit(1.0, "chunk_text on a run of punctuation"):
            chunks = chunk_text(paragraph, 4_000)
        joined = "".join(s.text for chunk in chunks for s in chunk)
        assert re.sub(r"\s", "", joined) == re.sub(r"\s", "", paragraph)
    # Sentence ends are still found at the end of a run, before a space or the end.
    assert split_sentences("Wait... what?! Yes.") == ["Wait...", " what?!", " Yes."]
    assert split_sentences("好。。。是的！") == ["好。。。", "是的！"]
