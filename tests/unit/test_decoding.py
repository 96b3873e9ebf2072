"""Page decoding: declared labels, wrong labels, detection, BOMs, and a real Chinese corpus."""

from __future__ import annotations

import codecs
import html
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.stages.decoding import codec_for, declared_codecs, decode_html, detect
from tests.support.regex_audit import time_limit

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "zh_cwced"
#: Pages of the corpus whose bytes are genuinely invalid in their real encoding (GBK).
BROKEN_PAGES = {"6dc2d508-", "b70f455d-"}

GBK_TEXT = "朱镕基总理今天在国务院新闻发布会上说，中国经济运行总体平稳。"  # 镕 is GBK-only
BIG5_TEXT = "香港特別行政區政府今日公佈最新經濟數據，顯示本港經濟持續復甦。"
HKSCS_TEXT = "佢哋話呢間餐廳啲嘢食好好食㗎，我哋聽日一齊去啦。"  # 㗎 is HKSCS-only
CP932_TEXT = "①②③ ㈱髙橋商事は本日、新製品を発表しました。"  # NEC/IBM extensions
KOREAN_TEXT = "대한민국 정부는 오늘 새로운 경제 정책을 발표했다."
RUSSIAN_TEXT = "Правительство России сегодня объявило о новых экономических мерах."


def page(text: str, head: str = "") -> str:
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("gb2312", "gb18030"),
        ("GBK", "gb18030"),
        ("x-gbk", "gb18030"),
        ("shift_jis", "cp932"),
        ("Shift-JIS", "cp932"),
        ("big5", "big5hkscs"),
        ("iso-8859-1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("euc-kr", "cp949"),
        ("UTF-8", "utf-8"),
        ("'utf8'", "utf-8"),
        ("windows-1251", "cp1251"),
        ("no-such-charset", None),
        ("", None),
    ],
)
def test_labels_map_to_whatwg_supersets(label: str, codec: str | None) -> None:
    assert codec_for(label) == codec


def test_gbk_page_labelled_gb2312_decodes_gbk_only_characters() -> None:
    body = page(GBK_TEXT, '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    text, codec = decode_html(body.encode("gbk"))
    assert codec == "gb18030"
    assert GBK_TEXT in text
    assert "\ufffd" not in text


def test_cp932_page_labelled_shift_jis_decodes_vendor_extensions() -> None:
    text, codec = decode_html(page(CP932_TEXT).encode("cp932"), "text/html; charset=Shift_JIS")
    assert codec == "cp932"
    assert CP932_TEXT in text


def test_big5_hkscs_page_labelled_big5() -> None:
    text, codec = decode_html(page(HKSCS_TEXT, '<meta charset="big5">').encode("big5hkscs"))
    assert codec == "big5hkscs"
    assert HKSCS_TEXT in text


def test_http_charset_comes_before_meta() -> None:
    body = page(RUSSIAN_TEXT, '<meta charset="koi8-r">').encode("cp1251")
    assert declared_codecs(body, "text/html; charset=windows-1251") == ["cp1251", "koi8-r"]
    text, codec = decode_html(body, "text/html; charset=windows-1251")
    assert (codec, RUSSIAN_TEXT in text) == ("cp1251", True)


def test_xml_declaration_is_a_declaration() -> None:
    body = ('<?xml version="1.0" encoding="GB2312"?>' + page(GBK_TEXT)).encode("gbk")
    assert declared_codecs(body, None) == ["gb18030"]


def test_meta_utf16_is_read_as_utf8() -> None:
    body = page("Grüße", '<meta charset="utf-16">').encode("utf-8")
    assert declared_codecs(body, None) == ["utf-8"]
    assert decode_html(body) == (body.decode("utf-8"), "utf-8")


def test_ascii_page_reports_the_declared_codec() -> None:
    body = page("plain", '<meta charset="windows-1252">').encode("ascii")
    assert decode_html(body) == (body.decode("ascii"), "cp1252")
    assert decode_html(page("plain").encode("ascii"))[1] == "utf-8"


# --- wrong and missing labels ---------------------------------------------------------------


def test_wrong_http_charset_utf8_on_a_gbk_page() -> None:
    # A server default of charset=utf-8 on a legacy page; the meta tells the truth.
    body = page(GBK_TEXT, '<meta charset="gbk">').encode("gbk")
    text, codec = decode_html(body, "text/html; charset=utf-8")
    assert codec == "gb18030"
    assert GBK_TEXT in text


def test_wrong_http_charset_latin1_on_a_utf8_page() -> None:
    body = page("Größere Änderungen – “news” 新闻").encode("utf-8")
    text, codec = decode_html(body, "text/html; charset=ISO-8859-1")
    assert codec == "utf-8"
    assert "Größere Änderungen – “news” 新闻" in text


def test_stale_gb2312_meta_on_a_utf8_page() -> None:
    body = page(GBK_TEXT, '<meta charset="gb2312">').encode("utf-8")
    assert decode_html(body) == (body.decode("utf-8"), "utf-8")


def test_wrong_charset_and_no_usable_meta_falls_back_to_detection() -> None:
    body = page(GBK_TEXT * 3).encode("gbk")
    text, codec = decode_html(body, "text/html; charset=utf-8")
    assert codec == "gb18030"
    assert GBK_TEXT in text


@pytest.mark.parametrize(
    ("text", "encoding", "expected"),
    [
        (BIG5_TEXT, "big5", "big5hkscs"),
        (BIG5_TEXT * 5, "big5", "big5hkscs"),
        (HKSCS_TEXT, "big5hkscs", "big5hkscs"),
        (GBK_TEXT, "gbk", "gb18030"),
        ("新闻发布会", "gbk", "gb18030"),
        (CP932_TEXT, "cp932", "cp932"),
        ("東京都の知事", "shift_jis", "cp932"),
        ("日本政府は本日、新しい経済対策を発表しました。", "euc_jp", "euc_jp"),
        (KOREAN_TEXT, "euc_kr", "cp949"),
        (RUSSIAN_TEXT, "cp1251", "cp1251"),
        (RUSSIAN_TEXT, "koi8_r", "koi8-r"),
        ("Café crème brûlée", "cp1252", "cp1252"),
        ("Café naïve résumé – “quoted”", "cp1252", "cp1252"),
        ("Maßnahmen für größere Änderungen", "cp1252", "cp1252"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy.", "cp1250", "cp1250"),
        ("Η κυβέρνηση ανακοίνωσε σήμερα νέα μέτρα.", "cp1253", "cp1253"),
    ],
)
def test_undeclared_pages_are_detected(text: str, encoding: str, expected: str) -> None:
    decoded, codec = decode_html(page(text).encode(encoding))
    assert codecs.lookup(codec).name == codecs.lookup(expected).name
    assert text in decoded


def test_short_cp1252_is_not_read_as_an_exotic_codepage() -> None:
    # charset-normalizer alone ranks cp1006 (Urdu) or cp1250 first for such snippets.
    assert decode_html("Caf\xe9".encode("cp1252")) == ("Café", "cp1252")
    assert decode_html("na\xefve r\xe9sum\xe9".encode("cp1252"))[1] == "cp1252"


def test_big5_is_not_read_as_gbk() -> None:
    # Every Big5 byte pair is also valid GBK: a clean gb18030 decode proves nothing.
    body = page(BIG5_TEXT).encode("big5")
    body.decode("gb18030")  # the trap: no error
    assert detect(body)[0] == "big5hkscs"
    assert decode_html(body) == (body.decode("big5hkscs"), "big5hkscs")


def test_a_few_broken_bytes_in_a_gbk_page_stay_local() -> None:
    good = (GBK_TEXT * 20).encode("gbk")
    body = page("").encode() + good[:300] + b"\xff\xff" + good[300:]
    text, codec = decode_html(body)
    assert codec == "gb18030"
    assert 1 <= text.count("\ufffd") <= 2
    assert text.count(GBK_TEXT) >= 18


# --- BOMs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_bom_wins_over_a_wrong_label(encoding: str) -> None:
    body = page(GBK_TEXT + " Größe", '<meta charset="gbk">').encode(encoding)
    text, codec = decode_html(body, "text/html; charset=iso-8859-1")
    assert codec in ("utf-8", "utf-16-le", "utf-16-be")
    assert GBK_TEXT + " Größe" in text
    assert not text.startswith("\ufeff")


def test_utf16_big_endian_bom() -> None:
    body = codecs.BOM_UTF16_BE + page(KOREAN_TEXT).encode("utf-16-be")
    assert decode_html(body) == (page(KOREAN_TEXT), "utf-16-be")


# --- robustness -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048), st.sampled_from([None, "text/html; charset=gbk", "x; charset="]))
def test_never_raises_on_arbitrary_bytes(body: bytes, content_type: str | None) -> None:
    text, codec = decode_html(body, content_type)
    assert isinstance(text, str)
    codecs.lookup(codec)


# --- the Chinese corpus (69 real pages: GB2312/GBK and UTF-8) -------------------------------


def corpus_pages() -> list[Path]:
    return sorted((CORPUS / "html").glob("*.html")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not corpus_pages(), reason=f"corpus not found at {CORPUS}")
def test_chinese_corpus_decodes_without_replacement_characters() -> None:
    pages = corpus_pages()
    assert len(pages) == 69
    with_replacements = set()
    for path in pages:
        body = path.read_bytes()
        text, codec = decode_html(body)
        if "\ufffd" in text:
            with_replacements.add(path.name[:9])
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            assert codec == "gb18030", path.name
        else:
            assert codec == "utf-8", path.name
        # Decoded right means the hand-copied article text is found in the page.
        truth = (CORPUS / "truth" / f"{path.stem}.txt").read_text("utf-8", errors="replace")
        snippets = [s[:12] for s in re.findall(r"[\u4e00-\u9fff，。、“”：]{12,}", truth)]
        flat = re.sub(r"\s+", "", html.unescape(text))
        found = sum(1 for s in snippets if s in flat)
        assert snippets and found >= len(snippets) / 2, (path.name, found, len(snippets))
    assert with_replacements <= BROKEN_PAGES


@pytest.mark.skipif(not corpus_pages(), reason=f"corpus not found at {CORPUS}")
def test_chinese_corpus_without_any_charset_declaration() -> None:
    """Detection alone (labels stripped from the pages) still gets every page right."""
    for path in corpus_pages():
        body = path.read_bytes()
        stripped = re.sub(rb"""charset\s*=\s*["']?[\w-]+""", b"", body, flags=re.IGNORECASE)
        text, codec = decode_html(stripped)
        _, expected_codec = decode_html(body)
        assert codec == expected_codec, path.name
        if path.name[:9] not in BROKEN_PAGES:
            assert "\ufffd" not in text, path.name


def test_utf8_cut_mid_character_or_with_a_stray_byte_stays_utf8() -> None:
    text = page("新闻发布会，" * 200)
    body = text.encode("utf-8")
    cut = "<p>" + "新闻发布会，" * 200
    decoded, codec = decode_html(cut.encode() + "新".encode()[:2])  # cut inside a character
    assert codec == "utf-8"
    assert decoded.count("\ufffd") == 1
    decoded, codec = decode_html(body[:500] + b"\xff" + body[500:], "text/html; charset=latin-1")
    assert codec == "utf-8"
    assert decoded.count("\ufffd") == 1


def test_garbage_is_given_up_on_quickly() -> None:
    body = bytes(range(256)) * 20_000  # 5 MB that is no encoding's text
    started = time.perf_counter()
    text, codec = decode_html(body)
    assert isinstance(text, str)
    codecs.lookup(codec)
    assert time.perf_counter() - started < 5.0


# --- hostile heads and headers (issue 9): every scan is linear ------------------------------------


def test_a_head_of_unfinished_meta_tags_is_read_in_linear_time() -> None:
    # The review's page: about 550 "<meta" fit in the 8 KiB scanned, then "charset=", spaces
    # and no value. The backtracking pattern took minutes per fetch on it.
    head = b"<meta" * 550 + b"charset=" + b" " * 5_000 + b"!"
    with time_limit(1.0, "declared_codecs on a head of unclosed <meta"):
        assert declared_codecs(head + b"<p>text</p>", None) == []
    # A hundred kilobytes of the same, and of spaces after "charset=" in one tag.
    with time_limit(1.0, "declared_codecs on 100 KB of unclosed <meta"):
        declared_codecs(b"<meta " * 20_000, None)
        declared_codecs(b"<meta charset=" + b" " * 100_000 + b"!", None)
    # Still read where they are real, quoted or not, with odd spacing.
    assert declared_codecs(
        b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', None
    ) == ["gb18030"]
    assert declared_codecs(b"<META CHARSET = ' Shift_JIS '>", None) == ["cp932"]
    assert declared_codecs(b"<meta name=x><meta charset=big5>", None) == ["big5hkscs"]


def test_a_hostile_content_type_is_read_in_linear_time() -> None:
    with time_limit(1.0, "declared_codecs on a long Content-Type"):
        assert declared_codecs(b"<p>x</p>", "text/html; charset=" + " " * 100_000 + "!") == []
        declared_codecs(b"<p>x</p>", "charset" * 20_000)
    assert declared_codecs(b"<p>x</p>", 'text/html; charset = "utf-8"') == ["utf-8"]
