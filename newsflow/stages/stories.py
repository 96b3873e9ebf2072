"""Near-duplicate fingerprints of article texts, and the decision that joins a copy to a story.

Plain logic, no database: the extractor computes :func:`fingerprint` of each extracted text,
the store finds candidates by the fingerprint's LSH band hashes (an indexed ``$in``), and
:func:`best_match` picks the earlier article this one is a copy of, if any.

Method: MinHash (Broder 1997) over shingles, with LSH banding (datasketch computes the
signature). MinHash estimates the Jaccard similarity of two shingle sets, which is what
"the same text, re-wrapped" means: a copy that trims a paragraph or adds a line keeps most
shingles. SimHash (Charikar 2002) was the alternative; it estimates cosine similarity of
weighted features and needs Hamming-distance lookups (permuted tables, several per article) to
find candidates, and its bit difference maps poorly to "what share of the text is shared".
MinHash gives that share directly, and its band hashes are plain equality keys that a MongoDB
multikey index answers in time independent of the collection size.

Shingles:

- space-separated languages: :data:`WORD_SHINGLE` consecutive words (NFKC, case-folded,
  punctuation dropped). Four words: an edited word changes at most four shingles, while
  independent articles on one event rarely share four-word runs beyond short quotes;
- Chinese, Japanese (and other scripts written without spaces): :data:`CHAR_SHINGLE`
  consecutive letters or digits, whitespace and punctuation dropped. Five characters are
  about three Chinese words (words average 1.5-2 characters), the same information as a
  four-word English shingle; shorter n-grams (2-3 characters) are common to unrelated texts
  (e.g. 中国, 记者从).

Signatures of :data:`NUM_PERM` hash functions are cut into :data:`BANDS` bands of
:data:`ROWS` rows: two texts of Jaccard similarity *s* share at least one band with
probability ``1 - (1 - s**3)**42``: 0.996 at 0.5, 0.68 at 0.3, 0.04 at 0.1. The candidates
are then judged on the signature (estimated similarity, standard error at most 0.045).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

__all__ = [
    "BANDS",
    "CHAR_SHINGLE",
    "METHOD",
    "MIN_SHINGLES",
    "NUM_PERM",
    "ROWS",
    "WORD_SHINGLE",
    "Candidate",
    "Fingerprint",
    "Match",
    "band_hashes",
    "best_match",
    "containment",
    "fingerprint",
    "shingle_mode",
    "shingles",
    "similarity",
]

NUM_PERM = 128
BANDS = 42
ROWS = 3
WORD_SHINGLE = 4
CHAR_SHINGLE = 5
#: Texts with fewer distinct shingles get no fingerprint: too short to tell a copy.
MIN_SHINGLES = 8
#: Stored with every fingerprint; fingerprints of another method are never compared.
METHOD = f"minhash{NUM_PERM}-b{BANDS}r{ROWS}-w{WORD_SHINGLE}c{CHAR_SHINGLE}-v1"
#: Fixed so that signatures stay comparable across processes, hosts and restarts.
_SEED = 1

#: Languages written without spaces between words: shingled by characters.
_CHAR_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo"})
_WORD = re.compile(r"\w+")
_CJK_FIRST = 0x2E80  # CJK radicals onwards (Han, kana, CJK punctuation, Hangul...)

ShingleMode = Literal["words", "chars"]


@dataclass(frozen=True)
class Fingerprint:
    """The near-duplicate fingerprint of one text."""

    method: str
    mode: ShingleMode
    #: Number of distinct shingles of the text (to estimate containment).
    size: int
    #: The MinHash signature: NUM_PERM little-endian uint32 values.
    signature: bytes
    #: One hash per band (signed 64-bit, as MongoDB stores integers); two texts that share
    #: any of them are candidates.
    bands: tuple[int, ...]


@dataclass(frozen=True)
class Candidate:
    """A stored fingerprint found by a band lookup."""

    article_id: str
    signature: bytes
    size: int
    #: When its fingerprint was first stored: only earlier articles can be matched.
    seen_at: datetime
    #: Its story, when decided (None while that article is still being placed).
    story_id: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Match:
    """The evidence of a merge: which earlier article, how similar."""

    article_id: str
    story_id: str
    #: Estimated Jaccard similarity of the two shingle sets.
    similarity: float
    #: Estimated share of this article's shingles found in the matched one.
    containment: float


def _primary(language: str | None) -> str | None:
    if not language or not language.strip():
        return None
    return re.split(r"[-_]", language.strip().lower(), maxsplit=1)[0] or None


def shingle_mode(text: str, language: str | None) -> ShingleMode:
    """``chars`` for Chinese, Japanese and other unspaced scripts, else ``words``.

    Without a language, a text whose letters are mostly CJK (Han or kana) is taken as unspaced.
    """
    primary = _primary(language)
    if primary is not None:
        return "chars" if primary in _CHAR_LANGUAGES else "words"
    sample = [c for c in text[:4000] if c.isalpha()]
    if not sample:
        return "words"
    cjk = sum(1 for c in sample if ord(c) >= _CJK_FIRST and not 0xAC00 <= ord(c) <= 0xD7AF)
    return "chars" if cjk > len(sample) / 2 else "words"


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def shingles(text: str, language: str | None = None) -> tuple[ShingleMode, set[str]]:
    """The shingle mode of ``text`` and its distinct shingles.

    A text shorter than one shingle gives the whole text as its only shingle (or nothing).
    """
    mode = shingle_mode(text, language)
    normalized = _normalize(text)
    if mode == "words":
        tokens = _WORD.findall(normalized)
        n = WORD_SHINGLE
        if len(tokens) < n:
            return mode, {" ".join(tokens)} if tokens else set()
        return mode, {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
    letters = "".join(c for c in normalized if c.isalnum())
    n = CHAR_SHINGLE
    if len(letters) < n:
        return mode, {letters} if letters else set()
    return mode, {letters[i : i + n] for i in range(len(letters) - n + 1)}


def band_hashes(values: np.ndarray) -> tuple[int, ...]:
    raw = values.astype("<u4")
    out = []
    for band in range(BANDS):
        chunk = raw[band * ROWS : (band + 1) * ROWS].tobytes()
        digest = hashlib.blake2b(
            band.to_bytes(2, "little") + chunk, digest_size=8, person=b"newsflow-lsh"
        ).digest()
        out.append(int.from_bytes(digest, "little", signed=True))
    return tuple(out)


def fingerprint(text: str, language: str | None = None) -> Fingerprint | None:
    """The fingerprint of an article's text, or None when it has under :data:`MIN_SHINGLES`.

    Deterministic: the same text gives the same fingerprint in every process.
    """
    mode, found = shingles(text, language)
    if len(found) < MIN_SHINGLES:
        return None
    # Imported here, by the one stage that fingerprints: datasketch's package imports SciPy
    # (its LSH), 68 MB and half a second in every process that would load it with the store.
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme="affine32")
    minhash.update_batch([s.encode("utf-8") for s in sorted(found)])
    values = np.asarray(minhash.hashvalues)
    return Fingerprint(
        method=METHOD,
        mode=mode,
        size=len(found),
        signature=values.astype("<u4").tobytes(),
        bands=band_hashes(values),
    )


def similarity(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two texts from their signatures (share of equal rows)."""
    left = np.frombuffer(a, dtype="<u4")
    right = np.frombuffer(b, dtype="<u4")
    if left.size != right.size or left.size == 0:
        raise ValueError("signatures of different methods cannot be compared")
    return float(np.count_nonzero(left == right)) / left.size


def containment(jaccard: float, size: int, other_size: int) -> float:
    """Estimated share of a text's ``size`` shingles that the other text has too.

    From ``|A ∩ B| = J (|A| + |B|) / (1 + J)``, with the exact set sizes stored beside the
    signatures. Capped at 1 (the estimate of J is noisy).
    """
    if size <= 0:
        return 0.0
    shared = jaccard * (size + other_size) / (1.0 + jaccard)
    return min(1.0, shared / size)


def best_match(
    print_: Fingerprint,
    candidates: Iterable[Candidate],
    *,
    merge_threshold: float,
    exclude: str | None = None,
) -> Match | None:
    """The most similar candidate at or above ``merge_threshold``, or None.

    Ties go to the earliest candidate (then the smallest id), so every replica decides alike.
    A candidate whose story is not decided yet lends its own id as the story (it is the first
    of its story, or soon joins one: see the store's placing of copies).
    """
    best: Candidate | None = None
    best_key: tuple[float, datetime, str] | None = None
    for candidate in candidates:
        if candidate.article_id == exclude or len(candidate.signature) != len(print_.signature):
            continue
        score = similarity(print_.signature, candidate.signature)
        if score < merge_threshold:
            continue
        key = (-score, candidate.seen_at, candidate.article_id)
        if best_key is None or key < best_key:
            best, best_key = candidate, key
    if best is None or best_key is None:
        return None
    score = -best_key[0]
    return Match(
        article_id=best.article_id,
        story_id=best.story_id or best.article_id,
        similarity=round(score, 4),
        containment=round(containment(score, print_.size, best.size), 4),
    )
