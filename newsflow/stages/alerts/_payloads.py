"""The webhook bodies: Newsflow's JSON, or the request shape of Telegram, Discord or Slack.

Article text is untrusted: each format escapes it for the markup its receiver renders
(Telegram's HTML, Discord's Markdown, Slack's mrkdwn), so a title cannot add a link, a tag or a
mention (Discord's ``allowed_mentions`` is empty, Slack's ``<!channel>`` cannot be written).
Lengths are cut to each API's limits.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from newsflow.stages.alerts._match import Subject
from newsflow.stages.alerts._rules import AlertRule

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\ufeff]")
_DISCORD_SPECIAL = re.compile(r"([\\*_~`|>\[\]()#@<:-])")
_COLORS = {"bullish": 0x2EB67D, "bearish": 0xE01E5A, "neutral": 0x9E9E9E}
_ICONS = {"bullish": "\U0001f7e2", "bearish": "\U0001f534", "neutral": "\u26aa"}


@dataclass(frozen=True)
class Payload:
    """One webhook request body."""

    body: bytes
    content_type: str = "application/json"


def clean(text: str | None, limit: int) -> str:
    """``text`` without control characters, on one line's worth of whitespace, cut to ``limit``."""
    text = _CONTROL.sub("", text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def _one_line(text: str | None, limit: int) -> str:
    return clean(" ".join((text or "").split()), limit)


def _impact_line(subject: Subject) -> str:
    parts: list[str] = []
    if subject.direction:
        parts.append(subject.direction.capitalize())
    if subject.all_symbols:
        parts.append(", ".join(subject.all_symbols[:10]))
    if subject.confidence is not None:
        parts.append(f"confidence {subject.confidence:.2f}")
    return " · ".join(parts)


def event(rule: AlertRule, subject: Subject, *, page_url: str, key: str) -> dict[str, Any]:
    """The ``json`` format: everything a program needs to act on the alert."""
    impact = None
    if subject.direction is not None:
        impact = {
            "direction": subject.direction,
            "confidence": subject.confidence,
            "summary": subject.summary,
            "symbols": list(subject.impact_symbols),
        }
    return {
        "type": "article.matched",
        "idempotency_key": key,
        "rule": {"id": rule.id, "name": rule.name, "criteria": rule.criteria()},
        "article": {
            "id": subject.article_id,
            "short_id": subject.short_id,
            "title": subject.title,
            "original_title": subject.original_title,
            "page_url": page_url,
            "source_url": subject.url,
            "source": subject.source,
            "site": subject.site,
            "language": subject.language,
            "category": subject.category,
            "symbols": list(subject.all_symbols),
            "keywords": list(subject.keywords),
            "published": subject.published.isoformat() if subject.published else None,
            "impact": impact,
            "votes": dict(subject.votes),
        },
    }


def telegram(rule: AlertRule, subject: Subject, *, page_url: str) -> dict[str, Any]:
    """Bot API ``sendMessage``: ``{chat_id, text, parse_mode: "HTML", ...}`` (text <= 4096)."""
    esc = html.escape
    head = _impact_line(subject)
    lines = []
    if head:
        icon = _ICONS.get(subject.direction or "", "")
        lines.append(f"{icon} <b>{esc(head)}</b>".strip())
    lines.append(f'<a href="{esc(page_url, quote=True)}">{esc(_one_line(subject.title, 300))}</a>')
    fixed = sum(len(line) + 1 for line in lines) + 200
    if subject.summary:
        lines.append(esc(clean(subject.summary, max(0, 3500 - fixed))))
    lines.append(
        f"<i>{esc(_one_line(subject.site or subject.source, 80))} · "
        f"{esc(_one_line(rule.label, 100))}</i>"
    )
    chat: int | str = (
        int(rule.chat_id)
        if rule.chat_id and rule.chat_id.lstrip("-").isdigit()
        else str(rule.chat_id)
    )
    return {
        "chat_id": chat,
        # Under 4096 characters once the entities are parsed (the API's limit): the
        # parts are cut above, never here, which could split a tag.
        "text": "\n".join(lines),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


def _discord_escape(text: str) -> str:
    return _DISCORD_SPECIAL.sub(r"\\\1", text)


def discord(rule: AlertRule, subject: Subject, *, page_url: str) -> dict[str, Any]:
    """Webhook execute: ``{content, embeds: [{title, url, description, ...}]}``, no mentions."""
    head = _impact_line(subject) or "New article"
    embed: dict[str, Any] = {
        "title": _one_line(subject.title, 256),
        "url": page_url,
        "description": _discord_escape(clean(subject.summary, 2000)) if subject.summary else "",
        "color": _COLORS.get(subject.direction or "", 0x5865F2),
        "fields": [
            {
                "name": "Source",
                "value": _discord_escape(_one_line(subject.site or subject.source, 200)) or "-",
                "inline": True,
            },
        ],
        "footer": {"text": _one_line(f"Newsflow · {rule.label}", 2048)},
    }
    if subject.all_symbols:
        embed["fields"].append(
            {
                "name": "Symbols",
                "value": _discord_escape(", ".join(subject.all_symbols[:25]))[:1024],
                "inline": True,
            }
        )
    if subject.published:
        embed["timestamp"] = subject.published.isoformat()
    if not embed["description"]:
        del embed["description"]
    return {
        "content": _discord_escape(_one_line(head, 300)),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str) -> str:
    # The link syntax is <url|text>: a URL holding | or > would end it early.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def slack(rule: AlertRule, subject: Subject, *, page_url: str) -> dict[str, Any]:
    """Incoming webhook: ``{text, blocks}`` (``text`` is the notification's fallback)."""
    title = _slack_escape(_one_line(subject.title, 300))
    head = _impact_line(subject)
    section = f"*<{_slack_link(page_url)}|{title}>*"
    if subject.summary:
        section += "\n" + _slack_escape(clean(subject.summary, 2500))
    context = " · ".join(
        p
        for p in (
            _slack_escape(head),
            _slack_escape(_one_line(subject.site or subject.source, 80)),
            _slack_escape(_one_line(rule.label, 100)),
        )
        if p
    )
    return {
        # The notification's text (Slack's fallback) is mrkdwn too: escaped like the blocks.
        "text": _slack_escape(
            _one_line(f"{head}: {subject.title}" if head else subject.title, 300)
        ),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": section[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context[:3000]}]},
        ],
        "unfurl_links": False,
    }


def render(rule: AlertRule, subject: Subject, *, page_url: str, key: str) -> Payload:
    """The body of ``rule``'s webhook for ``subject`` in the rule's format."""
    if rule.format == "telegram":
        data = telegram(rule, subject, page_url=page_url)
    elif rule.format == "discord":
        data = discord(rule, subject, page_url=page_url)
    elif rule.format == "slack":
        data = slack(rule, subject, page_url=page_url)
    else:
        data = event(rule, subject, page_url=page_url, key=key)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Payload(body)
