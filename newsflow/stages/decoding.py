"""Turning page bytes into text before anything parses them.

``decode_html(body, content_type) -> (text, codec)`` decides in this order:

1. a byte-order mark;
2. valid UTF-8 (with any non-ASCII byte), or UTF-8 with a handful of broken bytes among many
   well-formed sequences: that is practically never an accident, while wrong labels are
   common (``charset=iso-8859-1`` server defaults, ``gb2312`` metas left on converted pages);
3. the HTTP ``charset``, then the ``<meta>`` (or XML declaration) charset, each used only if
   it decodes the bytes cleanly;
4. detection by charset-normalizer, limited to the encodings browsers implement (the WHATWG
   Encoding Standard: no ``cp1006`` for a short French text), near-ties broken in favour of
   the encodings most used on the web (``cp1252`` before ``cp1250``);
5. between CJK readings, the least garbled by charset-normalizer's mess ratio: Big5 bytes are
   also valid GBK, so a clean decode proves nothing; and for CJK pages with a few broken
   bytes (common), the multibyte codec that decodes all but a handful of them, with
   replacement characters only where the bytes are invalid.

Labels are read the WHATWG way: ``gb2312``/``gbk`` as ``gb18030``, ``shift_jis`` as ``cp932``,
``big5`` as ``big5hkscs``, ``iso-8859-1``/``ascii`` as ``cp1252``, ``euc-kr`` as ``cp949``:
Python's strict codecs for the narrower labels fail on real pages.
"""

from __future__ import annotations

import codecs
import re
from functools import cache

from charset_normalizer import from_bytes
from charset_normalizer.md import mess_ratio

#: WHATWG-style supersets for labels whose Python codec is too strict for real pages.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb_2312-80": "gb18030",
    "euc-cn": "gb18030",
    "euc_cn": "gb18030",
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
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "euc-kr": "cp949",
    "euc_kr": "cp949",
    "ks_c_5601-1987": "cp949",
}

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

#: Python codecs of the WHATWG Encoding Standard's legacy encodings, most used on the web
#: first (the order breaks near-ties in detection).
_WEB_CODECS = (
    "cp1252",
    "gb18030",
    "cp1251",
    "cp932",
    "cp949",
    "cp1250",
    "big5hkscs",
    "euc_jp",
    "iso8859_2",
    "cp1256",
    "iso8859_15",
    "cp1254",
    "cp1253",
    "cp874",
    "koi8_r",
    "cp1255",
    "cp1257",
    "cp1258",
    "iso2022_jp",
    "koi8_u",
    "cp866",
    "iso8859_5",
    "iso8859_7",
    "iso8859_6",
    "iso8859_8",
    "iso8859_4",
    "iso8859_13",
    "iso8859_3",
    "iso8859_10",
    "iso8859_14",
    "iso8859_16",
    "mac_roman",
    "mac_cyrillic",
)

#: The names charset-normalizer knows these by (it has no big5hkscs/cp949 detector of its
#: own; its big5 results are read as big5hkscs).
_DETECTOR_NAMES = {"big5hkscs": "big5"}

_MULTIBYTE = ("gb18030", "big5hkscs", "cp932", "cp949", "euc_jp")

# Pages and headers are hostile: every pattern here is linear (possessive quantifiers, no
# overlapping retries), see tests/unit/test_regex_audit.py. ``<meta[^>]+charset`` was not: on
# a head of unclosed ``<meta`` each one scanned to the end (minutes for 8 KiB).
_META_CHARSET = re.compile(rb"""charset\s*+=\s*+["']?+\s*+([a-zA-Z0-9_.:-]++)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*+<\?xml[^>]*+""", re.IGNORECASE)
_XML_ENCODING_VALUE = re.compile(rb"""encoding\s*+=\s*+["']([a-zA-Z0-9_.:-]++)""", re.IGNORECASE)
_HTTP_CHARSET = re.compile(r"""charset\s*+=\s*+["']?+\s*+([a-zA-Z0-9_.:-]++)""", re.IGNORECASE)
#: Longest Content-Type header read (a real one is a few dozen characters).
_CONTENT_TYPE_MAX = 1024

#: How far into the page a ``<meta charset>`` is looked for (WHATWG says 1024 bytes; real
#: Chinese portals put long scripts and comments first).
_META_WINDOW = 8192
#: How much of a large page detection looks at.
_DETECT_WINDOW = 200_000
#: Characters of a candidate decoding that the mess ratio is computed on.
_MESS_SAMPLE = 20_000
_ASCII_RUN = re.compile(r"[\x00-\x7f]{16,}")
_ASCII = bytes(range(128))
#: Slice of the body decoded at a time when counting broken bytes.
_STEP = 64 * 1024


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


@cache
def _web_rank(codec: str) -> int:
    normal = codecs.lookup(codec).name
    for rank, web in enumerate(_WEB_CODECS):
        if codecs.lookup(web).name == normal:
            return rank
    return len(_WEB_CODECS)


@cache
def _ascii_compatible(codec: str) -> bool:
    try:
        return "<a href=x>".encode(codec) == b"<a href=x>"
    except (LookupError, UnicodeError):
        return False


def _decodes(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def declared_codecs(body: bytes, content_type: str | None) -> list[str]:
    """Codecs the page declares: the HTTP charset first, then the in-page one."""
    declared: list[str] = []
    m = _HTTP_CHARSET.search(content_type[:_CONTENT_TYPE_MAX]) if content_type else None
    if m and (codec := codec_for(m.group(1))):
        declared.append(codec)
    head = body[:_META_WINDOW]
    label = _xml_encoding(head) or _meta_charset(head)
    if label and (codec := codec_for(label)):
        # A page cannot declare UTF-16 in ASCII bytes; WHATWG reads such a meta as UTF-8.
        if codec.startswith(("utf-16", "utf_16")):
            codec = "utf-8"
        if codec not in declared:
            declared.append(codec)
    return declared


def _xml_encoding(head: bytes) -> str | None:
    """The ``encoding`` of an XML declaration at the very start of the page."""
    declaration = _XML_ENCODING.match(head)
    if declaration is None:
        return None
    m = _XML_ENCODING_VALUE.search(declaration.group())
    return m.group(1).decode("ascii", "ignore") if m else None


def _meta_charset(head: bytes) -> str | None:
    """The charset of the first ``<meta>`` tag that names one (``charset=`` anywhere in it).

    Each tag is read once, from ``<meta`` to the next ``>``: the scan is linear whatever the
    head holds (an unclosed tag runs to the end of the head, and so ends the scan).
    """
    lowered = head.lower()
    position = 0
    while (start := lowered.find(b"<meta", position)) != -1:
        end = lowered.find(b">", start)
        end = len(head) if end == -1 else end
        m = _META_CHARSET.search(head, start + 5, end)
        if m:
            return m.group(1).decode("ascii", "ignore")
        position = end
    return None


def detect(body: bytes) -> list[str]:
    """Plausible codecs for undeclared bytes, best first (charset-normalizer, web encodings).

    charset-normalizer reports one name for codecs that decode the bytes identically
    (``could_be_from_charset``): the one most used on the web is taken. Near-ties (same chaos
    and coherence within a small margin) also go to the encoding more common on the web: on
    short texts several single-byte codecs fit equally well.
    """
    isolation = [_DETECTOR_NAMES.get(c, c) for c in _WEB_CODECS]
    matches = list(from_bytes(body[:_DETECT_WINDOW], cp_isolation=isolation))
    if not matches:
        return []
    best = matches[0]
    scored = []
    for order, match in enumerate(matches):
        aliases = [codec_for(name) or name for name in match.could_be_from_charset]
        codec = min(aliases or [codec_for(match.encoding) or match.encoding], key=_web_rank)
        near = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.02
        # Near-ties by web rank; the rest in charset-normalizer's own order behind them.
        scored.append(((0, _web_rank(codec)) if near else (1, order), codec))
    ordered: list[str] = []
    for _, codec in sorted(scored):
        if codec not in ordered:
            ordered.append(codec)
    return ordered


def _mess(text: str) -> float:
    """How garbled a decoding looks (charset-normalizer's mess ratio; 0 is clean text).

    Long pure-ASCII runs (markup, scripts) are cut out first: they read the same in every
    candidate and would dilute the difference.
    """
    sample = _ASCII_RUN.sub(" ", text)[:_MESS_SAMPLE]
    return float(mess_ratio(sample, 1.0))


def _tolerated(body: bytes) -> int:
    """How many broken bytes a page may have and still count as written in a codec."""
    return max(2, len(body) // 2000)


def _replacements(body: bytes, codec: str, limit: int) -> int | None:
    """U+FFFD count of decoding with replacement, or None as soon as it passes ``limit``.

    Incremental, so garbage is given up on within the first 64 KiB instead of paying the
    replacement handler for every byte of a 5 MiB body.
    """
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    count = 0
    for start in range(0, len(body), _STEP):
        count += decoder.decode(body[start : start + _STEP]).count("\ufffd")
        if count > limit:
            return None
    count += decoder.decode(b"", final=True).count("\ufffd")
    return count if count <= limit else None


def _mostly_utf8(body: bytes) -> str | None:
    """The text if ``body`` is UTF-8 with a few broken bytes (or cut mid-character).

    A handful of errors among many well-formed multibyte sequences cannot be chance; a
    legacy page read as UTF-8 breaks at nearly every non-ASCII byte.
    """
    if _replacements(body, "utf-8", _tolerated(body)) is None:
        return None
    text = body.decode("utf-8", errors="replace")
    errors = text.count("\ufffd")
    well_formed = len(text) - len(text.encode("ascii", "ignore")) - errors
    return text if well_formed >= 10 * errors else None


def _lenient_multibyte(body: bytes, preferred: list[str]) -> tuple[str, str] | None:
    """A CJK codec that decodes all but a few bytes of a mostly non-ASCII page, if any.

    Pages with a handful of broken bytes are common; detectors drop a multibyte codec at the
    first invalid byte and fall back to a single-byte codec (garbage). Only for pages whose
    bytes are largely non-ASCII (CJK text), never for accented Latin.
    """
    sample = body[:100_000]
    high = len(sample.translate(None, _ASCII))
    if len(body) < 512 or high < len(sample) // 10:
        return None
    candidates = [c for c in preferred if c in _MULTIBYTE]
    candidates += [c for c in _MULTIBYTE if c not in candidates]
    best: tuple[int, str] | None = None
    for codec in candidates:
        limit = _tolerated(body) if best is None else best[0] - 1
        errors = _replacements(body, codec, limit)
        if errors is not None:
            best = (errors, codec)
    if best is None or best[0] == 0:
        return None  # none fits, or one fits cleanly (then it is a strict candidate)
    return body.decode(best[1], errors="replace"), best[1]


def _choose(body: bytes, declared: list[str]) -> tuple[str, str] | None:
    """Pick between detection's best single-byte codec and the CJK codecs that fit.

    Big5 byte pairs are also valid GBK (and often Shift-JIS): a clean decode proves nothing
    between multibyte codecs, but the wrong one reads as a jumble of rare characters, which
    charset-normalizer's mess ratio sees. It has no Big5-HKSCS detector and drops a multibyte
    codec at the first broken byte, hence the extra candidates. Single-byte codecs are left to
    its ranking (the mess ratio of a short Latin snippet is noise).
    """
    detected = detect(body)
    single: tuple[str, str] | None = None
    for codec in detected:
        if codec not in _MULTIBYTE and (text := _decodes(body, codec)) is not None:
            single = (text, codec)
            break
    multi: list[tuple[str, str]] = []
    for codec in [*(c for c in detected if c in _MULTIBYTE), *_MULTIBYTE]:
        if codec not in (c for _, c in multi) and (text := _decodes(body, codec)) is not None:
            multi.append((text, codec))
    lenient = _lenient_multibyte(body, [*declared, *detected])
    if lenient is not None:
        multi.append(lenient)
    if multi:
        scores = [_mess(text) for text, _ in multi]
        floor = min(scores)
        # The first (detector's order) among the least garbled, with a little tolerance.
        best = next(m for m, score in zip(multi, scores, strict=True) if score <= floor + 0.02)
        if detected and detected[0] in _MULTIBYTE:
            return best
        # Detection preferred a single-byte codec (which fits any bytes): only a clearly
        # cleaner CJK reading overrides it.
        if single is None or floor + 0.1 < _mess(single[0]):
            return best
    return single


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page: returns ``(text, codec name)``.

    Never raises; as a last resort the declared (or UTF-8) codec decodes with replacement
    characters.
    """
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(codec, errors="replace"), codec

    declared = declared_codecs(body, content_type)
    if body.isascii():
        codec = next((c for c in declared if _ascii_compatible(c)), "utf-8")
        return body.decode("ascii"), codec

    text = _decodes(body, "utf-8")
    if text is None:
        text = _mostly_utf8(body)
    if text is not None:
        return text, "utf-8"

    for codec in declared:
        text = _decodes(body, codec)
        if text is not None:
            return text, codec

    chosen = _choose(body, declared)
    if chosen is not None:
        return chosen

    fallback = declared[0] if declared else "utf-8"
    return body.decode(fallback, errors="replace"), fallback
