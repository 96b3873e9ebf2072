"""Reading a response body safely: bounded decompression and content checks.

httpx's own decoders inflate a whole network chunk at once (64 KB of gzip can become 64 MB),
so the fetcher reads the raw stream and inflates it here with an output bound: memory stays
at most ``max_bytes`` (+ one chunk) whatever the compression ratio of a bomb. The bound holds
for every layer of stacked codings (``deflate, gzip``), not only the last; at most
:data:`MAX_CODINGS` are stacked and a gzip stream has at most :data:`MAX_GZIP_MEMBERS`
members, so the work per body is bounded too: the decoding runs in the event loop.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

import brotli

from newsflow.stages.fetching._errors import Refused

#: Content-Encoding values we advertise and can bound.
ACCEPT_ENCODING = "gzip, deflate, br"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class TooLarge(Exception):
    """Internal: the decoded body passed the size cap."""


class BrokenBody(Exception):
    """Internal: the body does not decompress (corrupt or lying Content-Encoding)."""


#: Largest piece of output one decompression step may produce.
_PIECE = 64 * 1024
#: At most this many codings in one Content-Encoding (servers send one; each more layer is
#: another inflation of a bomb).
MAX_CODINGS = 2
#: At most this many members in one gzip stream (a body is one member, rarely a few; a run of
#: empty members is 20 bytes each of work with no output).
MAX_GZIP_MEMBERS = 64


class _Inflater(Protocol):
    def pieces(self, data: bytes) -> Iterator[bytes]:
        """Inflate ``data`` lazily, at most ``_PIECE`` bytes at a time.

        Lazily is the point: the caller stops pulling at the size cap, so a bomb is never
        inflated further than the cap (plus one piece).
        """
        ...

    def finish(self) -> None:
        """Raise ``BrokenBody`` if the stream ended in the middle."""
        ...


class _Identity:
    def pieces(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> None:
        return None


class _Zlib:
    """gzip (possibly multi-member) or deflate (zlib-wrapped or raw, as servers disagree)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._wbits)
        self._started = False
        self._members = 1
        #: Input seen before the first output, to retry as raw deflate if the header is bad.
        self._head: bytearray | None = None if gzip else bytearray()

    def _step(self, data: bytes) -> bytes:
        if self._head is not None:
            self._head += data
        try:
            piece = self._obj.decompress(data, _PIECE)
        except zlib.error:
            if self._head is None or self._wbits < 0:
                raise
            # "deflate" sent as raw deflate without the zlib header (the header check can
            # fail only at the second byte, so replay everything seen so far).
            self._wbits = -zlib.MAX_WBITS
            self._obj = zlib.decompressobj(self._wbits)
            piece = self._obj.decompress(bytes(self._head), _PIECE)
        self._started = True
        if piece or (self._head is not None and len(self._head) > _PIECE):
            self._head = None  # past the header: no more replays
        return piece

    def pieces(self, data: bytes) -> Iterator[bytes]:
        if not self._gzip and self._obj.eof:
            # Input after a deflate stream ended is junk: dropped, not fed to zlib, which would
            # append it to ``unused_data`` (a copy of all of it, each time).
            return
        try:
            while True:
                if data:
                    piece = self._step(data)
                elif self._started and not self._obj.eof:
                    # Output can be pending inside zlib with all input consumed.
                    piece = self._obj.decompress(b"", _PIECE)
                else:
                    piece = b""
                if piece:
                    yield piece
                data = self._obj.unconsumed_tail
                if not data and self._obj.eof and self._obj.unused_data:
                    if not self._gzip:
                        return  # trailing junk after a deflate stream: ignore it
                    data = self._obj.unused_data  # next gzip member
                    self._members += 1
                    if self._members > MAX_GZIP_MEMBERS:
                        raise BrokenBody(f"gzip body of more than {MAX_GZIP_MEMBERS} members")
                    self._obj = zlib.decompressobj(self._wbits)
                if not data and not piece:
                    return
        except zlib.error as exc:
            raise BrokenBody(f"broken compressed body ({exc})") from None

    def finish(self) -> None:
        if self._started and not self._obj.eof:
            raise BrokenBody("compressed body ends early")


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def pieces(self, data: bytes) -> Iterator[bytes]:
        try:
            piece = self._obj.process(data, output_buffer_limit=_PIECE)
            # With a limit, the decompressor holds output back until asked again with no
            # input (``can_accept_more_data`` is no sign that it is drained).
            while piece:
                yield piece
                piece = self._obj.process(b"", output_buffer_limit=_PIECE)
        except brotli.error as exc:
            raise BrokenBody(f"broken brotli body ({exc})") from None

    def finish(self) -> None:
        if not self._obj.is_finished():
            raise BrokenBody("brotli body ends early")


def _chain(inflater: _Inflater, upstream: Iterable[bytes]) -> Iterator[bytes]:
    for data in upstream:
        yield from inflater.pieces(data)


def _counted(upstream: Iterable[bytes], produced: list[int], limit: int) -> Iterator[bytes]:
    """The pieces of an inner layer, counted (``produced[0]``, over every call) up to
    ``limit``: a layer that inflates past the cap is a bomb even if the next one shrinks."""
    for piece in upstream:
        produced[0] += len(piece)
        if produced[0] > limit:
            raise TooLarge
        yield piece


class BoundedBody:
    """Accumulates a decoded body of at most ``max_bytes``; raises ``TooLarge`` past it.

    Memory stays near ``max_bytes`` + one ~64 KiB piece, whatever the compression ratio
    (measured: 5.5 MiB peak for a 5 MiB cap against a 256 MiB gzip or brotli bomb). Each inner
    layer of stacked codings may produce at most ``max_bytes`` too.
    """

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.raw_bytes = 0
        self.buffer = bytearray()
        self._chain: list[_Inflater] = []
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c not in ("identity", "none")]
        if len(codings) > MAX_CODINGS:
            raise BrokenBody(
                f"{len(codings)} stacked Content-Encodings (at most {MAX_CODINGS} are read)"
            )
        # Content-Encoding lists codings in the order applied: undo them in reverse.
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                self._chain.append(_Zlib(gzip=True))
            elif coding == "deflate":
                self._chain.append(_Zlib(gzip=False))
            elif coding == "br":
                self._chain.append(_Brotli())
            else:
                raise BrokenBody(f"unsupported Content-Encoding: {coding}")
        if not self._chain:
            self._chain.append(_Identity())
        #: What each inner layer (all but the last) produced so far.
        self._produced = [[0] for _ in self._chain[:-1]]

    def feed(self, raw: bytes) -> None:
        """Add a chunk of the raw (still encoded) stream."""
        self.raw_bytes += len(raw)
        if self.raw_bytes > self.max_bytes:
            raise TooLarge
        stream: Iterable[bytes] = (raw,)
        for i, inflater in enumerate(self._chain):
            if i:
                stream = _counted(stream, self._produced[i - 1], self.max_bytes)
            stream = _chain(inflater, stream)
        for piece in stream:
            if len(self.buffer) + len(piece) > self.max_bytes:
                raise TooLarge
            self.buffer += piece

    def finish(self) -> bytes:
        """The whole decoded body; raises ``BrokenBody`` if a compressed stream was cut."""
        for inflater in self._chain:
            inflater.finish()
        return bytes(self.buffer)


def media_type(content_type: str | None) -> str | None:
    """``"text/html"`` from ``"text/html; charset=utf-8"``; None if missing or blank."""
    if not content_type:
        return None
    value = content_type.split(";", 1)[0].strip().lower()
    return value or None


def check_media_type(content_type: str | None) -> None:
    """Refuse anything declared as something other than HTML/XHTML (missing is sniffed)."""
    kind = media_type(content_type)
    if kind is not None and kind not in HTML_TYPES:
        raise Refused(f"not HTML: {kind}")


#: Signatures of formats that are never HTML, as (offset, bytes, name).
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"%PDF-", "a PDF document"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"\x00\x00\x01\x00", "an icon"),
    (8, b"WEBP", "a WebP image"),
    (8, b"AVI ", "an AVI video"),
    (8, b"WAVE", "a WAV sound"),
    (4, b"ftyp", "an MP4/QuickTime/HEIF file"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (0, b"ID3", "an MP3 sound"),
    (0, b"OggS", "an Ogg file"),
    (0, b"fLaC", "a FLAC sound"),
    (0, b"PK\x03\x04", "a ZIP archive (or Office/EPUB document)"),
    (0, b"PK\x05\x06", "a ZIP archive"),
    (0, b"\x1f\x8b", "gzip data"),
    (0, b"BZh", "bzip2 data"),
    (0, b"\xfd7zXZ\x00", "xz data"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"\x28\xb5\x2f\xfd", "zstd data"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office document"),
    (0, b"{\\rtf", "an RTF document"),
    (0, b"%!PS", "a PostScript document"),
    (0, b"wOFF", "a web font"),
    (0, b"wOF2", "a web font"),
    (0, b"\x7fELF", "an executable"),
    (0, b"MZ\x90\x00", "a Windows executable"),
    (0, b"\x00asm", "WebAssembly"),
    (0, b"\xca\xfe\xba\xbe", "a Java class"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
)

_MARKUP = re.compile(
    r"<\s*(!doctype\s+html|html|head|body|title|meta|p|div|article|h1|a\s|script|link|!--)",
    re.IGNORECASE,
)


def sniff_binary(head: bytes) -> str | None:
    """What binary format ``head`` (the first bytes of a body) is, or None."""
    for offset, magic, name in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    # Some PDF writers put junk before the header; readers look in the first KiB.
    if b"%PDF-" in head[:1024]:
        return "a PDF document"
    return None


def looks_like_html(text_head: str) -> bool:
    """Whether the start of an undeclared body (already decoded) looks like HTML markup."""
    if "\x00" in text_head:
        return False
    return _MARKUP.search(text_head) is not None
