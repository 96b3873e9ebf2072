"""The extraction's speed-ups change nothing the extractors see: the C element lookup gives
lxml.html's classes, the faster readability ``clean`` gives readability's result, and the
shingles are the same windows."""

from __future__ import annotations

import random
import re

import lxml.html
import pytest
import readability.readability as readability_module
from lxml import etree

from newsflow.stages.extraction import _text
from newsflow.stages.extraction._lookup import fast_lookup

MARKUP = (
    "<html><head><title>t</title><!-- c --><?pi x?></head><body>"
    "<form action='/s'><label>q</label><input name='q'><select name='s'><option>a</option>"
    "</select><textarea name='t'>x</textarea></form><DIV><P>text &amp; more</P></DIV>"
    "</body></html>"
)


def classes(parser: etree.HTMLParser) -> list[tuple[str, type]]:
    tree = lxml.html.document_fromstring(MARKUP, parser=parser)
    return [(str(el.tag), type(el)) for el in tree.iter()]


def test_the_fast_lookup_gives_lxml_html_classes() -> None:
    slow = lxml.html.HTMLParser()
    slow.set_element_class_lookup(lxml.html.HtmlElementClassLookup())
    fast = lxml.html.HTMLParser()
    fast.set_element_class_lookup(fast_lookup())
    expected = classes(slow)
    assert classes(fast) == expected
    kinds = {cls for _, cls in expected}
    assert {lxml.html.FormElement, lxml.html.InputElement, lxml.html.SelectElement,
            lxml.html.TextareaElement, lxml.html.LabelElement, lxml.html.HtmlComment,
            lxml.html.HtmlElement} <= kinds  # fmt: skip


def _texts() -> list[str]:
    pieces = [" ", "  ", "\t", "\n", "\r\n", "\xa0", "\u3000", "word", "字", " \n ", "\t\t"]
    rng = random.Random(7)
    made = ["", " ", "plain", " a  b\tc\n\n d ", " " * 300 + "x", "\n" * 260, "a \xa0\n\xa0 b"]
    made += ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 400))) for _ in range(400)]
    return made


@pytest.mark.parametrize("text", _texts())
def test_readability_clean_gives_readabilitys_result(text: str) -> None:
    assert readability_module.clean is _text._readability_clean
    assert _text._readability_clean(text) == _text.READABILITY_CLEAN(text)


@pytest.mark.parametrize(
    "text", ["", "ab", "abcd", "abcde", "Hello, World! " * 40, "新闻报道。" * 30]
)
@pytest.mark.parametrize("size", [4, 20])
def test_shingles_are_every_window(text: str, size: int) -> None:
    flat = re.sub(r"[\W_]+", "", text.lower())
    expected = {flat} if 0 < len(flat) <= size else {
        flat[i : i + size] for i in range(len(flat) - size + 1)}  # fmt: skip
    assert _text._shingles(text, size) == expected
