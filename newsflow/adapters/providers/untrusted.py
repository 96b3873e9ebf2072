"""Sending untrusted article text to a model as data, and cleaning what comes back.

Article text is written by strangers and may say "ignore previous instructions". It is never
mixed with our instructions: it goes inside one ``<article_text>`` block of the user message,
any look-alike tag inside the text is escaped so the text cannot close the block early, and the
system message says the block is data to translate or analyse, never instructions. Whatever the
model answers is then validated by the caller; nothing in an answer triggers an action.
"""

from __future__ import annotations

import re

#: Name of the tag that delimits untrusted data in a prompt.
DATA_TAG = "article_text"

_TAG_LOOKALIKE = re.compile(rf"<\s*/?\s*{DATA_TAG}\b[^>]*>?", re.IGNORECASE)
_DATA_BLOCK = re.compile(rf"<{DATA_TAG}>\n?(.*?)\n?</{DATA_TAG}>", re.DOTALL)
_OUTER_FENCE = re.compile(r"^```[\w-]*[ \t]*\n(.*?)\n?```$", re.DOTALL)


def escape_data(text: str) -> str:
    """``text`` with anything resembling the data tag defused (``<`` becomes ``&lt;``)."""
    return _TAG_LOOKALIKE.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), text)


def wrap_data(text: str) -> str:
    """``text`` escaped and enclosed in the data block, ready for a user message."""
    return f"<{DATA_TAG}>\n{escape_data(text)}\n</{DATA_TAG}>"


def extract_data(prompt: str) -> str | None:
    """The contents of the first data block in ``prompt`` (what a model is meant to work on)."""
    match = _DATA_BLOCK.search(prompt)
    return match.group(1) if match else None


def clean_answer(answer: str) -> str:
    """The answer without an outer code fence or an echoed data block around it."""
    text = answer.strip()
    fenced = _OUTER_FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    echoed = _DATA_BLOCK.fullmatch(text)
    if echoed:
        text = echoed.group(1).strip()
    return text


def mentions_data_tag(text: str) -> bool:
    """Whether ``text`` still holds a data tag (a sign the model echoed the prompt)."""
    return bool(re.search(rf"</?\s*{DATA_TAG}\b", text, re.IGNORECASE))
