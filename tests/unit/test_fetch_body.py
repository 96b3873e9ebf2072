"""Reading bodies safely: bounded decompression (bombs), content checks, Retry-After."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import brotli
import pytest

from newsflow.stages.fetching._body import (
    BoundedBody,
    BrokenBody,
    TooLarge,
    check_media_type,
    looks_like_html,
    media_type,
    sniff_binary,
)
from newsflow.stages.fetching._errors import Refused
from newsflow.stages.fetching._fetcher import parse_retry_after

PAGE = b"<html><body>" + b"<p>Some article text, repeated.</p>" * 500 + b"</body></html>"
MiB = 1024 * 1024


def chunks(data: bytes, size: int = 16_384) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def compress(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        return gzip.compress(data)
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "raw-deflate":
        comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        return comp.compress(data) + comp.flush()
    if coding == "br":
        return bytes(brotli.compress(data, quality=5))
    return data


def read(data: bytes, coding: str | None, max_bytes: int = MiB) -> bytes:
    body = BoundedBody(coding, max_bytes)
    for chunk in chunks(data):
        body.feed(chunk)
    return body.finish()


@pytest.mark.parametrize(
    ("coding", "header"),
    [
        ("gzip", "gzip"),
        ("gzip", "x-gzip"),
        ("deflate", "deflate"),
        ("raw-deflate", "deflate"),  # servers disagree on what "deflate" means
        ("br", "br"),
        ("identity", None),
        ("identity", "identity"),
        ("identity", ""),
    ],
)
def test_each_coding_decodes(coding: str, header: str | None) -> None:
    assert read(compress(PAGE, coding), header) == PAGE


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "br"])
@pytest.mark.parametrize("size", [1, 7, 4096])
def test_any_chunking_gives_the_same_body(coding: str, size: int) -> None:
    data = b"".join(b"<p>%d %s</p>" % (i, b"ab" * (i % 300)) for i in range(3000))
    body = BoundedBody("deflate" if coding == "raw-deflate" else coding, 4 * MiB)
    for chunk in chunks(compress(data, coding), size):
        body.feed(chunk)
    assert body.finish() == data


def test_stacked_codings_are_undone_in_reverse() -> None:
    data = bytes(brotli.compress(gzip.compress(PAGE)))
    assert read(data, "gzip, br") == PAGE


def test_multi_member_gzip() -> None:
    assert read(gzip.compress(PAGE[:1000]) + gzip.compress(PAGE[1000:]), "gzip") == PAGE


def test_exactly_the_limit_is_allowed() -> None:
    assert read(gzip.compress(PAGE), "gzip", max_bytes=len(PAGE)) == PAGE
    with pytest.raises(TooLarge):
        read(gzip.compress(PAGE), "gzip", max_bytes=len(PAGE) - 1)
    with pytest.raises(TooLarge):
        read(PAGE, None, max_bytes=len(PAGE) - 1)


def _bomb(coding: str, size: int) -> bytes:
    zeros = b"\x00" * MiB
    if coding == "br":
        comp = brotli.Compressor(quality=5)
        return b"".join(comp.process(zeros) for _ in range(size // MiB)) + comp.finish()
    wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
    zcomp = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(zcomp.compress(zeros) for _ in range(size // MiB)) + zcomp.flush()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_bombs_stop_at_the_cap_with_flat_memory(coding: str) -> None:
    bomb = _bomb(coding, 32 * MiB)  # 32x the cap, ~32 KiB on the wire
    assert len(bomb) < MiB
    body = BoundedBody(coding, MiB)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            for chunk in chunks(bomb, 65_536):  # one network read can hold the whole bomb
                body.feed(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The cap plus one 64 KiB piece and bookkeeping, never the 32 MiB.
    assert peak < 1.5 * MiB
    assert len(body.buffer) <= MiB


def _deflate_then_zeros(trailing: int) -> bytes:
    """A small deflate stream followed by ``trailing`` zero bytes of junk, all gzipped: the
    outer layer inflates to the junk, the inner one has ended before it."""
    zeros = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    inner = zlib.compress(b"<html><p>hi</p></html>")
    out = [zeros.compress(inner)]
    out += [zeros.compress(bytes(MiB)) for _ in range(trailing // MiB)]
    return b"".join(out) + zeros.flush()


def test_an_inner_layer_is_capped_and_junk_after_a_deflate_stream_is_dropped() -> None:
    # 96 MiB of junk after the deflate stream, in ~100 KB on the wire (an outside review's
    # bomb: zlib kept appending the junk to ``unused_data``, a minute of CPU in the loop).
    bomb = _deflate_then_zeros(96 * MiB)
    assert len(bomb) < 200_000
    body = BoundedBody("deflate, gzip", MiB)
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            for chunk in chunks(bomb, 65_536):
                body.feed(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * MiB
    # Under the cap, the junk is dropped and the page is what the deflate stream held.
    assert read(_deflate_then_zeros(0) + gzip.compress(bytes(1000)), "deflate, gzip") == (
        b"<html><p>hi</p></html>"
    )


def test_many_gzip_members_are_refused() -> None:
    empty = gzip.compress(b"")
    with pytest.raises(BrokenBody, match="more than 64 members"):
        read(empty * 2000, "gzip")
    assert read(gzip.compress(b"<p>a</p>") + empty * 10, "gzip") == b"<p>a</p>"


def test_more_than_two_stacked_codings_are_refused() -> None:
    with pytest.raises(BrokenBody, match="3 stacked Content-Encodings"):
        BoundedBody("gzip, gzip, gzip", MiB)
    assert read(gzip.compress(gzip.compress(PAGE)), "gzip, identity, gzip") == PAGE


def test_raw_bytes_are_capped_too() -> None:
    body = BoundedBody(None, 1000)
    body.feed(b"x" * 1000)
    with pytest.raises(TooLarge):
        body.feed(b"x")


@pytest.mark.parametrize(
    ("data", "coding", "message"),
    [
        (b"this is not gzip at all", "gzip", "broken compressed body"),
        (b"this is not brotli at all", "br", "broken brotli body"),
        (gzip.compress(PAGE)[:60], "gzip", "compressed body ends early"),
        (bytes(brotli.compress(PAGE))[:20], "br", "brotli body ends early"),
    ],
)
def test_broken_bodies_give_a_reason(data: bytes, coding: str, message: str) -> None:
    with pytest.raises(BrokenBody, match=message):
        read(data, coding)


def test_unknown_coding_is_refused() -> None:
    with pytest.raises(BrokenBody, match="unsupported Content-Encoding: zstd"):
        BoundedBody("zstd", MiB)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/html; charset=utf-8", "text/html"),
        ("TEXT/HTML", "text/html"),
        ("application/xhtml+xml", "application/xhtml+xml"),
        ("", None),
        (None, None),
        (" ; charset=utf-8", None),
    ],
)
def test_media_type(content_type: str | None, expected: str | None) -> None:
    assert media_type(content_type) == expected


@pytest.mark.parametrize("content_type", ["text/html", "application/xhtml+xml", None, ""])
def test_html_types_pass(content_type: str | None) -> None:
    check_media_type(content_type)


@pytest.mark.parametrize(
    "content_type", ["application/pdf", "image/png", "application/json", "text/plain", "video/mp4"]
)
def test_other_types_are_refused(content_type: str) -> None:
    with pytest.raises(Refused, match=f"not HTML: {content_type}"):
        check_media_type(content_type + "; charset=utf-8")


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "PDF"),
        (b"\n\n  junk before %PDF-1.4", "PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "PNG"),
        (b"GIF89a\x01\x00", "GIF"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "JPEG"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "WebP"),
        (b"\x00\x00\x00\x18ftypmp42", "MP4"),
        (b"PK\x03\x04\x14\x00", "ZIP"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"\x7fELF\x02\x01", "executable"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
    ],
)
def test_magic_bytes(head: bytes, kind: str) -> None:
    found = sniff_binary(head)
    assert found is not None
    assert kind in found


@pytest.mark.parametrize(
    "head",
    [b"<!doctype html><html>", b"\xef\xbb\xbf<html>", b"", b"plain text", b"GIF is a format"],
)
def test_text_is_not_binary(head: bytes) -> None:
    assert sniff_binary(head) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!DOCTYPE html><html>", True),
        ("\n  <html lang=en>", True),
        ("<p>just a paragraph</p>", True),
        ("<!-- comment --><div>", True),
        ("plain text without markup", False),
        ('{"json": true}', False),
        ("<html>\x00\x00", False),
    ],
)
def test_looks_like_html(text: str, expected: bool) -> None:
    assert looks_like_html(text) is expected


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 3 ") == 3.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-5") is None
    assert parse_retry_after(None) is None
