"""Turning page bytes into text before anything parses them.

Order: the BOM, the HTTP ``charset``, the ``<meta>`` charset in the first bytes, then
detection (charset-normalizer). Labels are read the WHATWG way: ``gb2312``/``gbk`` as
``gb18030``, ``shift_jis`` as ``cp932``, ``big5`` as ``big5hkscs``, ``iso-8859-1`` as
``cp1252``; Python's strict codecs fail on real pages.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

#: WHATWG-style supersets for labels whose Python codec is too strict for real pages.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "cn-big5": "big5hkscs",
    "x-x-big5": "big5hkscs",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "euc-kr": "cp949",
    "ks_c_5601-1987": "cp949",
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

_MULTIBYTE = ("utf-8", "gb18030", "big5hkscs", "cp932", "cp949")

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
_HTTP_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


def codec_for(label: str | None) -> str | None:
    """The Python codec to use for a declared charset label, or None if unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _SUPERSETS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def _decodes(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page: returns ``(text, codec name)``.

    A declared charset that does not decode the bytes cleanly is not trusted (wrong headers
    are common); detection then decides, and as a last resort the declared or UTF-8 codec
    decodes with replacement characters.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec

    declared: list[str] = []
    if content_type and (m := _HTTP_CHARSET.search(content_type)):
        if codec := codec_for(m.group(1)):
            declared.append(codec)
    if m := _META_CHARSET.search(body[:4096]):
        if codec := codec_for(m.group(1).decode("ascii", "ignore")):
            declared.append(codec)

    for codec in declared:
        text = _decodes(body, codec)
        if text is not None:
            return text, codec

    text = _decodes(body, "utf-8")
    if text is not None:
        return text, "utf-8"

    # A multibyte codec that decodes all but a handful of bytes is strong evidence (pages
    # with a few broken bytes are common); single-byte codecs decode anything and prove nothing.
    # Only for pages that are mostly non-ASCII bytes (CJK text), not accented Latin.
    high = sum(1 for b in body[:100_000] if b >= 0x80)
    if len(body) >= 512 and high >= min(len(body), 100_000) // 10:
        lenient = [*declared, *(c for c in _MULTIBYTE if c not in declared)]
        scored = []
        for rank, codec in enumerate(lenient):
            text = body.decode(codec, errors="replace")
            scored.append((text.count("\ufffd"), rank, codec, text))
        errors, _, codec, text = min(scored)
        if errors <= max(2, len(text) // 2000):
            return text, codec

    best = from_bytes(body[:200_000]).best()
    if best is not None:
        codec = codec_for(best.encoding) or best.encoding
        text = _decodes(body, codec)
        if text is not None:
            return text, codec

    fallback = declared[0] if declared else "utf-8"
    return body.decode(fallback, errors="replace"), fallback
