"""Every regular expression in newsflow/ and services/ is linear on hostile input.

Patterns run on page bytes, headers, article and feed text, and model answers: a backtracking
blow-up there stalls a worker's event loop (the regex holds the GIL; no deadline can fire).
The patterns are found automatically (tests/support/regex_audit.py: an AST scan of every
``re.*`` call plus the compiled patterns reachable from every module), so a new pattern is
covered without touching this file; one the audit cannot build inputs for fails the test.

Each pattern gets generated inputs of 100 KB (runs of each class and literal it uses, its
words repeated, repeated prefixes of a path through it, each prefix followed by a long run,
alternations of neighbouring classes) and must get through each (``finditer`` to the end, and
``fullmatch``) within ``BOUND`` seconds of CPU time (not wall time: a machine loaded by other
processes does not make it fail). A linear pattern needs milliseconds (the worst measured here
was about 25 ms of CPU); a quadratic one needs minutes at this size, so the bound leaves room
and still fails every quadratic pattern.
"""

from __future__ import annotations

import os
import re

import pytest

from tests.support.regex_audit import (
    Found,
    UncoveredPattern,
    adversarial_inputs,
    discover,
    time_pattern,
)

#: CPU seconds one 100 KB input may take (NEWSFLOW_REGEX_AUDIT_BOUND overrides, for slow CI).
BOUND = float(os.environ.get("NEWSFLOW_REGEX_AUDIT_BOUND", "0.5"))

PATTERNS, PROBLEMS = discover()


def test_every_pattern_is_covered() -> None:
    assert not PROBLEMS, "patterns the audit cannot cover:\n" + "\n".join(PROBLEMS)
    # The scan does find what it should: the patterns named in the review, by module.
    where = {w for f in PATTERNS for w in f.where}
    assert "newsflow.stages.decoding._HTTP_CHARSET" in where
    assert "newsflow.stages.translation._SENTENCE_END" in where
    assert any(w.startswith("newsflow/stages/impact.py:") for w in where)  # built from locals
    assert any(w.startswith("services/reader/") for w in where)
    assert len(PATTERNS) >= 50


@pytest.mark.parametrize("found", PATTERNS, ids=lambda f: min(f.where))
def test_pattern_is_linear_on_hostile_input(found: Found) -> None:
    timing = time_pattern(found, BOUND)
    assert not timing.expired, (
        f"{found.label()!r} ({', '.join(sorted(found.where))}) took longer than {BOUND:g} s "
        f"on 100 KB of: {'; '.join(timing.expired[:5])}"
    )


# --- the audit itself ----------------------------------------------------------------------------


def test_the_audit_catches_quadratic_patterns() -> None:
    for source in (
        r"<think>.*?</think>",
        r"\s*:\s*$",
        r"<meta[^>]+charset\s*=\s*x",
        r"[.!?]+(?=\s|$)",
        r"a\s*b?\s*c",
    ):
        timing = time_pattern(Found(re.compile(source), {"probe"}), 0.2)
        assert timing.expired, f"{source} was not caught"
    timing = time_pattern(Found(re.compile(rb"(?<![.!?])[.!?]++(?=\s|$)"), {"probe"}), 0.2)
    assert not timing.expired


def test_inputs_are_built_from_the_pattern() -> None:
    inputs = dict(adversarial_inputs(re.compile(r"<think>.*?</think>", re.DOTALL), 1000))
    texts = list(inputs.values())
    assert any(t.startswith("<think><think>") for t in texts)  # unclosed tag repeated
    assert any(t.startswith("</think></think>") for t in texts)
    assert all(900 <= len(t) <= 1100 for t in texts)
    binary = adversarial_inputs(re.compile(rb"charset\s*="), 1000)
    assert all(isinstance(t, bytes) for _, t in binary)
    assert any(t.startswith((b"charset charset", b"charsetcharset")) for _, t in binary)


def test_unknown_constructs_are_reported_not_skipped() -> None:
    # A locale-dependent class has no probe in the builder: reported, never skipped.
    with pytest.raises(UncoveredPattern):
        adversarial_inputs(re.compile(rb"(?L)\w+"), 100)
