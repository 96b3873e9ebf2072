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

_OPEN, _CLOSE = f"<{DATA_TAG}>", f"</{DATA_TAG}>"
# Article text and answers are hostile: patterns here are linear (possessive runs; no
# ``<tag>(.*?)</tag>`` search, which retried every unclosed tag to the end of the text).
_TAG_LOOKALIKE = re.compile(rf"<\s*+/?+\s*+{DATA_TAG}\b[^>]*+>?", re.IGNORECASE)
_OUTER_FENCE = re.compile(r"^```[\w-]*+[ \t]*+\n(.*?)\n?```$", re.DOTALL)


def escape_data(text: str) -> str:
    """``text`` with anything resembling the data tag defused (``<`` becomes ``&lt;``)."""
    return _TAG_LOOKALIKE.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), text)


def wrap_data(text: str) -> str:
    """``text`` escaped and enclosed in the data block, ready for a user message."""
    return f"<{DATA_TAG}>\n{escape_data(text)}\n</{DATA_TAG}>"


def extract_data(prompt: str) -> str | None:
    """The contents of the first data block in ``prompt`` (what a model is meant to work on)."""
    start = prompt.find(_OPEN)
    if start == -1:
        return None
    start += len(_OPEN)
    end = prompt.find(_CLOSE, start)
    if end == -1:
        return None
    return _trim_newlines(prompt[start:end])


def _trim_newlines(data: str) -> str:
    """The block's contents without the one line break after its opening and before its end."""
    data = data.removeprefix("\n")
    return data.removesuffix("\n")


def clean_answer(answer: str) -> str:
    """The answer without an outer code fence or an echoed data block around it."""
    text = answer.strip()
    fenced = _OUTER_FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    if text.startswith(_OPEN) and text.endswith(_CLOSE) and len(text) >= len(_OPEN + _CLOSE):
        text = _trim_newlines(text[len(_OPEN) : -len(_CLOSE)]).strip()
    return text


def mentions_data_tag(text: str) -> bool:
    """Whether ``text`` still holds a data tag (a sign the model echoed the prompt)."""
    return bool(re.search(rf"</?\s*{DATA_TAG}\b", text, re.IGNORECASE))
