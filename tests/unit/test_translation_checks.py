"""Judging whether a model's answer is a translation: script, length, paragraphs."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from newsflow.adapters.providers import ProviderError
from newsflow.domain.contracts import ExtractionResult
from newsflow.settings import Settings
from newsflow.stages.translation import (
    TranslationRejected,
    check_translation,
    guess_language,
    in_target_script,
    language_label,
    primary_language,
    script_shares,
    text_weight,
    translate_article,
)
from tests.support.regex_audit import time_limit

ZH = "苹果公司今天宣布第三季度利润增长百分之十五，股价随之上涨。分析师认为需求强劲。"
EN = "Apple said today its third-quarter profit grew 15 percent, and its shares rose."


@pytest.mark.parametrize(
    ("code", "primary"),
    [("zh-Hans-CN", "zh"), ("en_US", "en"), ("EN", "en"), ("", None), (None, None), (" ja ", "ja")],
)
def test_primary_language(code: str | None, primary: str | None) -> None:
    assert primary_language(code) == primary


def test_language_labels_for_prompts() -> None:
    assert language_label("zh") == "Chinese (zh)"
    assert language_label("xx") == "xx (xx)"
    assert language_label(None) == "unknown (detect it)"


def test_script_shares_count_letters_only() -> None:
    shares = script_shares("Apple 苹果 2024!!")
    assert shares == {"LATIN": pytest.approx(5 / 7), "CJK": pytest.approx(2 / 7)}
    assert script_shares("123 !!") == {}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (ZH, "zh"),
        ("東京株式市場で、トヨタの株価が上がった。", "ja"),
        ("삼성전자 주가가 올랐다", "ko"),
        (EN, None),
    ],
)
def test_guess_language_from_script(text: str, language: str | None) -> None:
    assert guess_language(text) == language


def test_weights_make_chinese_and_english_comparable() -> None:
    assert text_weight("abc 1.") == 6
    assert text_weight("公司。") == 7  # two characters at three, CJK punctuation at one
    assert 0.5 < text_weight(EN) / text_weight(ZH) < 1.5


def test_target_script() -> None:
    assert in_target_script(EN, "en")
    assert not in_target_script(ZH, "en")
    assert in_target_script(ZH, "zh")
    # A few foreign names do not make an English text foreign.
    assert in_target_script("Shares of 比亚迪 (BYD) rose sharply on Monday in Shenzhen", "en")
    assert in_target_script("Цены на нефть выросли", "ru")
    assert in_target_script("anything at all", "xx")  # unknown target: no judgement


def test_a_good_translation_passes_with_its_paragraphs() -> None:
    source = f"{ZH}\n\n{ZH}"
    assert check_translation(source, f"{EN}\n\n{EN}", "en", paragraphs=2) == [EN, EN]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty"),
        ("PWNED", "too short"),
        (ZH, "not in English: 100% of its letters are Cjk"),
        (EN * 40, "too long"),
        (f"<article_text>{EN}</article_text>", "echoes"),
    ],
)
def test_bad_answers_are_rejected_with_a_reason(answer: str, reason: str) -> None:
    with pytest.raises(TranslationRejected, match=reason):
        check_translation(ZH, answer, "en")


def test_lost_paragraphs_are_rejected_but_a_merged_pair_is_tolerated() -> None:
    source = "\n\n".join([ZH] * 6)
    answer = " ".join([EN] * 6)
    with pytest.raises(TranslationRejected, match="6 paragraph\\(s\\) sent, 1 returned"):
        check_translation(source, answer, "en", paragraphs=6)
    merged = "\n\n".join([EN * 2, EN, EN, EN, EN])
    assert len(check_translation(source, merged, "en", paragraphs=6)) == 5


def test_untranslated_same_script_text_is_not_judged_as_a_copy() -> None:
    # French to English keeps the script; an identical answer is not provably wrong.
    french = "Les actions d'Apple ont augmenté de cinq pour cent aujourd'hui."
    assert check_translation(french, french, "en") == [french]


# --- bounded work on the event loop (issue 9) ------------------------------------------------------


def test_an_oversized_answer_is_refused_before_it_is_scanned() -> None:
    # Judging the script of a 10 MB answer for a short text took seconds on the worker's loop;
    # its length alone already says it is no translation of the source.
    with (
        time_limit(0.5, "check_translation of a 10 MB answer"),
        pytest.raises(TranslationRejected, match="too long"),
    ):
        check_translation(ZH, "x" * 10_000_000, "en")


async def test_translation_keeps_the_event_loop_responsive_on_a_huge_text() -> None:
    # Language guessing and chunking of a 6 MB text (one paragraph of short sentences, no
    # language tag) took over a second of pure Python on the translator's event loop.
    text = "中文。" * 2_000_000

    class Refusing:  # a provider that fails at once: only the work before the calls counts
        name, model = "refusing", "none"

        async def complete(
            self, messages: list[dict[str, str]], *, json_mode: bool = False, schema: object = None
        ) -> str:
            raise ProviderError("refused")

    longest = 0.0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal longest
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now

    extraction = ExtractionResult(status="ok", text=text, language=None)
    gc.collect()
    gc.disable()  # a collection of what earlier tests left is no part of the measure
    try:
        watcher = asyncio.create_task(watch())
        await asyncio.sleep(0.02)
        result = await translate_article(extraction, Refusing(), Settings(_env_file=None))
        done.set()
        await watcher
    finally:
        gc.enable()
    assert result.status == "failed" and result.source_language == "zh"
    assert longest < 0.5, f"the event loop was blocked for {longest:.2f} s"
