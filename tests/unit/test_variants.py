"""Syndicated copies: same paragraphs, other chrome, valid HTML, decodable as declared."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import lxml.html
import pytest

from newsflow.stages.decoding import decode_html
from newsflow.stages.extraction import extract_page
from tests.support.corpus_server import Corpus
from tests.support.variants import (
    build_variant,
    default_variant_specs,
    headline_of,
    paragraphs_of,
    source_of,
    syndicated_copy,
    variant_id,
)

CORPUS = Corpus()
HAS_CORPUS = (CORPUS.root / "scrapinghub" / "ground-truth.json").is_file()
needs_corpus = pytest.mark.skipif(not HAS_CORPUS, reason=f"corpus not found at {CORPUS.root}")

ORIGINAL_TEXT = (
    "The harbour reopened on Monday after a week of storms.\n"
    "Ferries ran at half capacity, the port authority said, and freight waited offshore.\n\n"
    "Fishermen said the damage to the breakwater was worse than in 2014.\n"
    "Repairs are expected to take until the spring, with costs shared by the region.\n"
    "Café owners on the quay — already hit by the closure — asked for help."
)
ORIGINAL = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Harbour reopens after storms | Original Gazette</title></head><body>"
    "<nav><a href='/'>Original Gazette home</a><a href='/sport'>Original sport desk</a></nav>"
    "<article><h1>Harbour reopens after storms</h1>"
    + "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs_of(ORIGINAL_TEXT))
    + "</article><footer>Original Gazette footer, all rights reserved</footer></body></html>"
).encode("utf-8")
CHINESE_TEXT = "台风过后，港口于周一重新开放。\n渔民说，防波堤的损坏比二〇一四年更严重。\n修复工程预计持续到明年春天。"

VOID = {"meta", "link", "input", "br", "img", "hr"}


class _Checker(HTMLParser):
    """Records structural errors: unclosed or mismatched tags, and element counts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.counts: dict[str, int] = {}
        self.doctype = False

    def handle_decl(self, decl: str) -> None:
        self.doctype = self.doctype or decl.lower() == "doctype html"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")


def _check_valid(page: str) -> None:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.doctype, "no <!DOCTYPE html>"
    assert not checker.errors and not checker.stack, (checker.errors, checker.stack)
    for tag in ("html", "head", "body", "title", "h1", "main", "header", "footer"):
        assert checker.counts.get(tag) == 1, f"{tag} appears {checker.counts.get(tag, 0)} times"


def _declared(data: bytes) -> str:
    head = (
        data.decode("utf-16") if data[:2] in (b"\xff\xfe", b"\xfe\xff") else data.decode("latin-1")
    )
    match = re.search(r'<meta charset="([^"]+)">', head)
    assert match, "no <meta charset>"
    return match.group(1)


def _article_paragraphs(page: str) -> list[str]:
    tree = lxml.html.document_fromstring(page)
    (h1,) = tree.xpath("//h1")
    container = h1.getparent()
    return [p.text_content() for p in container.findall("p") if p.get("class") != "byline"]


def _chrome_text(page: str) -> str:
    tree = lxml.html.document_fromstring(page)
    for node in tree.xpath("//h1/parent::*"):
        node.drop_tree()
    return " ".join(tree.xpath("//body")[0].text_content().split())


def test_copy_keeps_the_paragraphs_and_changes_the_chrome() -> None:
    copy = syndicated_copy(ORIGINAL, seed=3, text=ORIGINAL_TEXT)
    page = copy.decode("utf-8")
    _check_valid(page)
    assert _article_paragraphs(page) == paragraphs_of(ORIGINAL_TEXT)
    title = lxml.html.document_fromstring(page).findtext(".//title")
    assert title.startswith("Harbour reopens after storms")
    assert title != "Harbour reopens after storms | Original Gazette"
    assert "Original Gazette" not in page and "Original sport desk" not in page
    chrome = _chrome_text(page)
    assert not any(p in chrome for p in paragraphs_of(ORIGINAL_TEXT)), "article text in chrome"
    # Another seed gives other chrome around the same article.
    other = syndicated_copy(ORIGINAL, seed=4, text=ORIGINAL_TEXT).decode("utf-8")
    assert _article_paragraphs(other) == paragraphs_of(ORIGINAL_TEXT)
    assert _chrome_text(other) != chrome


def test_trims_and_added_line() -> None:
    paragraphs = paragraphs_of(ORIGINAL_TEXT)
    copy = syndicated_copy(
        ORIGINAL,
        seed=1,
        text=ORIGINAL_TEXT,
        trim_first=True,
        trim_last=True,
        add_line="This story has been updated.",
    ).decode("utf-8")
    assert _article_paragraphs(copy) == [*paragraphs[1:-1], "This story has been updated."]
    with pytest.raises(ValueError, match="no article paragraph"):
        syndicated_copy(ORIGINAL, seed=1, text="Only one paragraph.", trim_first=True)


def test_text_defaults_to_the_extracted_article() -> None:
    page = syndicated_copy(ORIGINAL, seed=5).decode("utf-8")
    kept = _article_paragraphs(page)
    assert "Fishermen said the damage to the breakwater was worse than in 2014." in kept
    assert not any("Original Gazette" in p for p in kept)


@pytest.mark.parametrize("encoding", ["utf-8", "gbk", "utf-16", "cp1252"])
def test_copy_decodes_as_declared(encoding: str) -> None:
    text = CHINESE_TEXT if encoding == "gbk" else ORIGINAL_TEXT
    copy = syndicated_copy(ORIGINAL, seed=9, text=text, encoding=encoding)
    assert _declared(copy) == encoding
    page = copy.decode(encoding)  # strict: every byte is valid in the declared encoding
    _check_valid(page)
    assert _article_paragraphs(page) == paragraphs_of(text)
    decoded, _codec = decode_html(copy, None)  # the pipeline's own decoding agrees
    assert _article_paragraphs(decoded) == paragraphs_of(text)


def test_unencodable_characters_become_references() -> None:
    # GBK has no "ñ" and no "€": they must survive as character references.
    text = ORIGINAL_TEXT + "\nThe Año Nuevo ferry now costs €12."
    copy = syndicated_copy(ORIGINAL, seed=2, text=text, encoding="gbk")
    assert b"&#241;" in copy and b"&#8364;" in copy
    assert _article_paragraphs(copy.decode("gbk")) == paragraphs_of(text)


def test_chinese_text_gets_chinese_chrome() -> None:
    page = syndicated_copy(ORIGINAL, seed=0, text=CHINESE_TEXT).decode("utf-8")
    assert 'lang="en"' in page  # the original page's language is kept
    assert re.search(r"<title>[^<]*(环球快讯网|新城日报)</title>", page)


def test_copies_are_deterministic() -> None:
    kwargs = {"seed": 11, "text": ORIGINAL_TEXT, "trim_last": True}
    assert syndicated_copy(ORIGINAL, **kwargs) == syndicated_copy(ORIGINAL, **kwargs)


def test_headline_of_splits_off_site_names() -> None:
    assert headline_of("Opinion | Republicans Are Following Trump - The New York Times") == (
        "Republicans Are Following Trump"
    )
    assert headline_of("四年前中500万现穷困潦倒__商贸_新浪网") == "四年前中500万现穷困潦倒"
    assert headline_of("Plain headline") == "Plain headline"


def test_variant_ids_name_their_source() -> None:
    assert source_of(variant_id("abc", "syn2")) == "abc"
    assert source_of("abc") == "abc"


@needs_corpus
def test_default_specs_cover_the_corpus_once() -> None:
    specs = default_variant_specs(CORPUS)
    assert len(specs) == 250
    assert len({s.variant_id for s in specs}) == 250
    assert len({s.source_id for s in specs}) == 250
    assert all(source_of(s.variant_id) == s.source_id for s in specs)
    assert {s.encoding for s in specs} == {"utf-8", "utf-16", "gbk"}
    assert any(s.trim_first for s in specs) and any(s.trim_last for s in specs)
    assert any(s.add_line for s in specs)
    assert default_variant_specs(CORPUS) == specs


@needs_corpus
def test_corpus_copies_keep_the_article_and_extract_back() -> None:
    found = []
    for spec in default_variant_specs(CORPUS)[::5]:
        copy = build_variant(spec, CORPUS)
        page = copy.decode(_declared(copy))
        _check_valid(page)
        expected = paragraphs_of(CORPUS.truth(spec.source_set, spec.source_id))
        expected = expected[1:] if spec.trim_first else expected
        expected = expected[:-1] if spec.trim_last else expected
        expected = [*expected, spec.add_line] if spec.add_line else expected
        assert _article_paragraphs(page) == expected, spec
        # The pipeline's extractor reads the article back out of the new chrome.
        text = " ".join((extract_page(page).text or "").split())
        kept = expected[:-1] if spec.add_line else expected
        found.append(sum(p in text for p in kept) / len(kept))
    assert sum(found) / len(found) >= 0.95, sorted(found)[:5]
