"""OPML subscription lists: what every feed reader imports and exports.

Read with defusedxml (no entity expansion, no external entities); written with
ElementTree, which escapes every attribute (feed titles are untrusted).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException


class InvalidOpml(ValueError):
    """The file is not an OPML list we can read; ``str(exc)`` says why."""


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str | None = None
    category: str | None = None


def parse_opml(data: bytes) -> list[OpmlFeed]:
    """Every ``<outline xmlUrl=...>``, with its title and its folder (or category) as category."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise InvalidOpml(
            f"refused: {type(exc).__name__} (DTDs and entities are not read)"
        ) from None
    except ET.ParseError as exc:
        raise InvalidOpml(f"not XML: {exc}") from None
    if root.tag.lower() != "opml":
        raise InvalidOpml(f"not OPML: the root element is <{root.tag[:40]}>")
    body = root.find("body")
    if body is None:
        raise InvalidOpml("not OPML: no <body>")
    found: list[OpmlFeed] = []
    seen: set[str] = set()

    def walk(node: ET.Element, folder: str | None) -> None:
        for outline in node.findall("outline"):
            url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
            title = (outline.get("title") or outline.get("text") or "").strip() or None
            if url:
                category = (outline.get("category") or "").strip().strip("/") or folder
                if url not in seen:
                    seen.add(url)
                    found.append(OpmlFeed(url, title, category))
            walk(outline, title if not url else folder)

    walk(body, None)
    return found


def to_opml(feeds: Iterable[OpmlFeed], title: str = "Newsflow sources") -> str:
    """An OPML 2.0 document of ``feeds``, grouped by category like readers do."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for feed in feeds:
        parent = body
        if feed.category:
            if feed.category not in folders:
                folders[feed.category] = ET.SubElement(
                    body, "outline", text=feed.category, title=feed.category
                )
            parent = folders[feed.category]
        attrs = {
            "type": "rss",
            "text": feed.title or feed.url,
            "title": feed.title or feed.url,
            "xmlUrl": feed.url,
        }
        if feed.category:
            attrs["category"] = feed.category
        ET.SubElement(parent, "outline", attrs)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
