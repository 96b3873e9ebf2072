"""Alert rules: what a user asks to be told about, and where to send it.

A rule is a conjunction: every criterion it sets must hold, and a list criterion holds when
any of its values does (``symbols=["BTC", "ETH"]`` is "BTC or ETH"). A rule that sets no
criterion at all would match every analyzed article: it is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Direction = Literal["bullish", "bearish", "neutral"]
#: How the webhook body is shaped: Newsflow's own JSON, or a chat service's API.
PayloadFormat = Literal["json", "telegram", "discord", "slack"]
FORMATS: tuple[str, ...] = ("json", "telegram", "discord", "slack")

_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-:_]{0,19}$")
_LANG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9\-]{0,62}\.)*[a-z0-9\-]{1,63}$")
_CHAT_ID = re.compile(r"^(-?\d{1,20}|@[A-Za-z0-9_]{5,32})$")
MAX_VALUES = 50


def _clean_list(values: list[str], *, limit: int, what: str) -> list[str]:
    out: list[str] = []
    for value in values:
        value = value.strip()
        if not value or value in out:
            continue
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError(f"{what} {value[:40]!r} contains control characters")
        out.append(value)
    if len(out) > limit:
        raise ValueError(f"at most {limit} {what}s per rule ({len(out)} given)")
    return out


class RuleSpec(BaseModel):
    """What a user defines: the criteria and the webhook (CLI, API and reader page)."""

    model_config = ConfigDict(extra="forbid")

    #: A name people recognise the rule by (shown in lists and in the messages).
    name: str = Field(default="", max_length=100)
    symbols: list[str] = []
    #: Categories such as ``en_crypto``; the topic alone (``crypto``) matches any language.
    categories: list[str] = []
    #: Languages of the original article (``zh``, ``en``...).
    languages: list[str] = []
    #: Source hosts; ``reuters.com`` also matches ``www.reuters.com`` and ``uk.reuters.com``.
    sources: list[str] = []
    #: Words or phrases looked for in the keywords, the title and the impact summary.
    keywords: list[str] = []
    #: The impact analysis must say this direction.
    direction: Direction | None = None
    #: The impact analysis must be at least this confident (0..1).
    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    #: The article must have at least this many "important" votes.
    min_important: int = Field(default=0, ge=0, le=1_000_000)
    #: Where to POST (http or https; the fetcher's SSRF policy applies when sending).
    url: str = Field(min_length=1, max_length=2048)
    format: PayloadFormat = "json"
    #: Telegram's ``chat_id`` (a number, or ``@channelname``): required with ``telegram``.
    chat_id: str | None = Field(default=None, max_length=40)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("the name contains control characters")
        return value

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, values: list[str]) -> list[str]:
        values = [
            v.upper().lstrip("$") for v in _clean_list(values, limit=MAX_VALUES, what="symbol")
        ]
        for v in values:
            if not _SYMBOL.match(v):
                raise ValueError(f"{v[:40]!r} is not a symbol (letters, digits, . - : _)")
        return values

    @field_validator("categories")
    @classmethod
    def _categories(cls, values: list[str]) -> list[str]:
        values = [v.lower() for v in _clean_list(values, limit=MAX_VALUES, what="category")]
        for v in values:
            if len(v) > 40:
                raise ValueError(f"category {v[:40]!r}... is longer than 40 characters")
        return values

    @field_validator("languages")
    @classmethod
    def _languages(cls, values: list[str]) -> list[str]:
        values = [v.lower() for v in _clean_list(values, limit=MAX_VALUES, what="language")]
        for v in values:
            if not _LANG.match(v):
                raise ValueError(f"{v[:40]!r} is not a language code such as en or zh")
        return values

    @field_validator("sources")
    @classmethod
    def _sources(cls, values: list[str]) -> list[str]:
        cleaned = []
        for v in _clean_list(values, limit=MAX_VALUES, what="source"):
            v = v.lower().rstrip(".").removeprefix("www.")
            if not _HOST.match(v):
                raise ValueError(f"{v[:60]!r} is not a host name such as reuters.com")
            cleaned.append(v)
        return cleaned

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, values: list[str]) -> list[str]:
        values = _clean_list(values, limit=20, what="keyword")
        for v in values:
            if len(v) > 100:
                raise ValueError(f"keyword {v[:40]!r}... is longer than 100 characters")
        return values

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://", value, re.IGNORECASE):
            raise ValueError("the webhook URL must start with http:// or https://")
        if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("the webhook URL contains spaces or control characters")
        return value

    @field_validator("chat_id")
    @classmethod
    def _chat_id(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not _CHAT_ID.match(value):
            raise ValueError("a Telegram chat_id is a number or @channelname")
        return value

    @model_validator(mode="after")
    def _complete(self) -> RuleSpec:
        if self.format == "telegram" and not self.chat_id:
            raise ValueError("a telegram rule needs chat_id (the chat or @channel to post to)")
        if self.format != "telegram" and self.chat_id:
            raise ValueError("chat_id is only used by the telegram format")
        if not self.criteria():
            raise ValueError(
                "a rule needs at least one criterion (symbol, category, language, source, "
                "keyword, direction, minimum confidence or minimum important votes)"
            )
        return self

    def criteria(self) -> list[str]:
        """The criteria in words, for lists and messages (``symbol BTC or ETH``...)."""
        said: list[str] = []
        if self.symbols:
            said.append("symbol " + " or ".join(self.symbols))
        if self.categories:
            said.append("category " + " or ".join(self.categories))
        if self.languages:
            said.append("language " + " or ".join(self.languages))
        if self.sources:
            said.append("source " + " or ".join(self.sources))
        if self.keywords:
            said.append("keyword " + " or ".join(repr(k) for k in self.keywords))
        if self.direction:
            said.append(f"direction {self.direction}")
        if self.min_confidence is not None:
            said.append(f"confidence >= {self.min_confidence:g}")
        if self.min_important:
            said.append(f"important votes >= {self.min_important}")
        return said


class LastFailure(BaseModel):
    at: datetime
    reason: str
    article_id: str | None = None


class AlertRule(RuleSpec):
    """A stored rule: the user's spec plus its id, secret and delivery record."""

    model_config = ConfigDict(extra="ignore")

    id: str
    #: The HMAC key of the rule's signatures: shown once, when the rule is created.
    secret: str = Field(repr=False)
    created_at: datetime
    enabled: bool = True
    deliveries: int = 0
    failures: int = 0
    last_delivery_at: datetime | None = None
    last_failure: LastFailure | None = None

    @property
    def label(self) -> str:
        """How messages and lists name the rule."""
        return self.name or f"rule {self.id}"


def redact_url(url: str) -> str:
    """The webhook URL as shown: scheme, host and port only.

    Chat webhooks carry their credential in the path (Telegram's bot token, Discord's and
    Slack's webhook tokens), so no list, page or failure reason shows more than the host.
    """
    match = re.match(r"^(https?://)([^/?#]*)", url, re.IGNORECASE)
    if not match:
        return "(invalid URL)"
    netloc = match.group(2).rsplit("@", 1)[-1]
    return f"{match.group(1).lower()}{netloc}/…"
