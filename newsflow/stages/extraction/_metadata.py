"""Page metadata that trafilatura leaves out or gets wrong: JSON-LD, dates with their zone,
titles without the site name, the main image.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urljoin, urlsplit

from dateutil import parser as dateparser
from dateutil.parser import UnknownTimezoneWarning
from lxml.html import HtmlElement

#: schema.org types of an article (a page about one story).
ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "backgroundnewsarticle",
    "reviewnewsarticle",
    "blogposting",
    "socialmediaposting",
    "liveblogposting",
    "report",
    "scholarlyarticle",
    "techarticle",
    "review",
    "creativework",
}
#: schema.org types of a page listing other pages.
LISTING_TYPES = {"collectionpage", "searchresultspage", "itemlist", "profilepage"}

_DATE_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "article:published",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "publication_date",
    "sailthru.date",
    "parsely-pub-date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "date",
    "citation_publication_date",
    "publishdate",
    "weibo:article:create_at",
    "bytedance:published_time",
)
_IMAGE_META = (
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
)
_SITE_META = (
    "og:site_name",
    "application-name",
    "apple-mobile-web-app-title",
    "twitter:app:name:iphone",
)

#: Separators between a headline and the site name in ``<title>``.
#: Separators of title pieces. Possessive, and never started inside a run of spaces (every
#: alternative takes the whole run), so a long run is not retried from each of its positions.
_TITLE_SPLIT = re.compile(
    r"(?!(?<=\s)\s)(?:\s++[|\-–—·•»:~]\s++|\s*+[|｜_]\s*+|\s*+(?:——|--|－)\s*+|\s++-\s*+)"
)


@dataclass
class PageFacts:
    """What the page's markup says about itself, read once from the tree."""

    html_lang: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    json_ld: list[dict[str, Any]] = field(default_factory=list)
    og_type: str | None = None
    h1: list[str] = field(default_factory=list)
    html_title: str | None = None

    @property
    def article_ld(self) -> dict[str, Any] | None:
        """The first JSON-LD object whose type is an article."""
        for obj in self.json_ld:
            if ARTICLE_TYPES & _types(obj):
                return obj
        return None

    @property
    def ld_types(self) -> set[str]:
        found: set[str] = set()
        for obj in self.json_ld:
            found |= _types(obj)
        return found


def _types(obj: dict[str, Any]) -> set[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return {k.lower() for k in kinds if isinstance(k, str)}


def read_facts(tree: HtmlElement) -> PageFacts:
    """Meta tags, JSON-LD objects, headings and ``lang`` of a parsed page."""
    facts = PageFacts()
    root = tree.getroottree().getroot()
    facts.html_lang = root.get("lang") or root.get("xml:lang")
    for meta in tree.iterfind(".//meta"):
        key = meta.get("property") or meta.get("name") or meta.get("itemprop")
        content = meta.get("content")
        if key and content and content.strip():
            facts.meta.setdefault(key.strip().lower(), content.strip())
        if not facts.html_lang and (meta.get("http-equiv") or "").lower() == "content-language":
            facts.html_lang = meta.get("content")
    facts.og_type = facts.meta.get("og:type")
    for script in tree.xpath('.//script[contains(@type, "ld+json")]'):
        facts.json_ld.extend(_parse_json_ld(script.text or ""))
    facts.h1 = [_clean(h.text_content()) for h in tree.iterfind(".//h1")][:5]
    facts.h1 = [h for h in facts.h1 if h]
    title = tree.find(".//title")
    if title is not None:
        facts.html_title = _clean(title.text_content()) or None
    return facts


def _parse_json_ld(raw: str) -> list[dict[str, Any]]:
    raw = raw.strip()
    if not raw:
        return []
    try:
        data = json.loads(raw, strict=False)
    except ValueError:
        # Common breakage: trailing commas, HTML comments around the JSON.
        try:
            data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw.strip("<!->\n ")), strict=False)
        except ValueError:
            return []
    found: list[dict[str, Any]] = []
    stack = [data]
    while stack and len(found) < 50:
        item = stack.pop(0)
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            found.append(item)
            if isinstance(item.get("@graph"), list):
                stack.extend(item["@graph"])
            main = item.get("mainEntity") or item.get("mainEntityOfPage")
            if isinstance(main, dict) and "@type" in main:
                stack.append(main)
    return found


def _clean(text: str | None) -> str:
    return re.sub(r"\s+", " ", text or "").strip()


def ld_text(value: Any) -> str | None:
    """A JSON-LD value as one string (first element of a list, ``name`` of an object)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("url")
    if isinstance(value, (str, int, float)) and str(value).strip():
        return _clean(str(value))
    return None


# --- dates -------------------------------------------------------------------------------


#: Zone abbreviations news pages print ("07:47 PM EST"), as UTC offsets. Ambiguous ones are
#: left out ("IST": India, Ireland or Israel); "CST" is read as US Central (a Chinese page
#: names no zone: see :func:`page_time`).
_ZONE_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "BST": 1, "CET": 1, "CEST": 2, "EET": 2, "EEST": 3,
    "JST": 9, "KST": 9, "HKT": 8, "SGT": 8, "AEST": 10, "AEDT": 11,
}  # fmt: skip
_TZINFOS = {name: hours * 3600 for name, hours in _ZONE_ABBREVIATIONS.items()}

#: The zone of a time a page gives without one, by the page's language: the Chinese,
#: Japanese and Korean press each write in one zone (mainland, Hong Kong and Taiwan alike at
#: UTC+8). Elsewhere a page's zone cannot be told from its language; such times stay UTC.
_PAGE_ZONES: dict[str, timezone] = {
    "zh": timezone(timedelta(hours=8)),
    "ja": timezone(timedelta(hours=9)),
    "ko": timezone(timedelta(hours=9)),
}


def page_time(published: datetime | None, language: str | None) -> datetime | None:
    """A time the page gave without a zone, in its language's zone (a Chinese page's
    "2020-11-26 08:04" is 00:04 UTC). A bare date (midnight) is left as it is: there is no
    time of day to shift."""
    if published is None or published.tzinfo is not None or language is None:
        return published
    zone = _PAGE_ZONES.get(language.split("-")[0].lower())
    if zone is None or published.time() == datetime.min.time():
        return published
    return published.replace(tzinfo=zone)


def parse_date(value: str | None) -> datetime | None:
    """A date string as a datetime: aware when the string has a zone (an offset, or a zone
    abbreviation of :data:`_ZONE_ABBREVIATIONS`), naive otherwise; None for a year outside
    1990-2100 (placeholders such as ``0001-01-01``)."""
    if not value:
        return None
    value = value.strip()
    try:
        iso = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        return iso if 1990 <= iso.year <= 2100 else None
    chinese = re.search(
        r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:(\d{1,2})\s*[:：时]\s*(\d{1,2}))?",
        value,
    )
    if chinese:
        y, mo, d, h, mi = chinese.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0))  # noqa: DTZ001 - the page names no zone
        except ValueError:
            return None
    if len(value) > 64 or not re.search(r"\d", value):
        return None
    try:
        with warnings.catch_warnings():
            # A zone name it does not know (ambiguous ones): the date stays naive.
            warnings.simplefilter("ignore", UnknownTimezoneWarning)
            parsed = dateparser.parse(value, fuzzy=False, tzinfos=_TZINFOS)
    except (ValueError, OverflowError, TypeError):
        return None
    if not 1990 <= parsed.year <= 2100:
        return None
    return parsed


def published_date(facts: PageFacts, tree: HtmlElement) -> tuple[datetime | None, str | None]:
    """The publication date given by the markup, and where it was found."""
    article = facts.article_ld
    candidates: list[tuple[str, str | None]] = []
    if article is not None:
        candidates.append(("JSON-LD datePublished", ld_text(article.get("datePublished"))))
    for obj in facts.json_ld:
        if obj is not article and "datePublished" in obj:
            candidates.append(("JSON-LD datePublished", ld_text(obj.get("datePublished"))))
    for key in _DATE_META:
        if key in facts.meta:
            candidates.append((f"meta {key}", facts.meta[key]))
    for el in tree.xpath('.//*[@itemprop="datePublished"]')[:2]:
        candidates.append(
            ("itemprop datePublished", el.get("content") or el.get("datetime") or el.text_content())
        )
    for el in tree.xpath(".//time[@datetime]")[:1]:
        candidates.append(("<time datetime>", el.get("datetime")))
    for source, value in candidates:
        parsed = parse_date(value)
        if parsed is not None:
            return parsed, source
    return None, None


# --- title, site name, image ----------------------------------------------------------------


def site_name(facts: PageFacts) -> str | None:
    """The publication's name from Open Graph, JSON-LD publisher or app meta tags."""
    for key in _SITE_META:
        if key in facts.meta:
            return _clean(facts.meta[key])
    article = facts.article_ld
    if article is not None:
        name = ld_text(article.get("publisher"))
        if name and not name.startswith("http"):
            return name
    for obj in facts.json_ld:
        if _types(obj) & {"organization", "newsmediaorganization", "website"}:
            name = ld_text(obj.get("name"))
            if name:
                return name
    return None


def _norm(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def clean_title(
    title: str | None, facts: PageFacts, site: str | None, url: str | None
) -> tuple[str | None, str | None]:
    """The headline without the site name; also returns a site name read off the title.

    A heading (``h1``) that is one piece of the title wins; otherwise pieces that name the
    site (its name or domain) are dropped from either end.
    """
    candidates = [t for t in (title, facts.meta.get("og:title"), facts.html_title) if t]
    if not candidates:
        return (facts.h1[0] if facts.h1 else None), None
    title = _clean(candidates[0])
    parts = [p for p in _TITLE_SPLIT.split(title) if p.strip()]
    if len(parts) < 2:
        return title, None
    h1s = {_norm(h) for h in facts.h1}
    for i in range(len(parts)):
        for j in range(len(parts), i, -1):
            piece = title_join(title, parts[i:j])
            if (j - i) < len(parts) and _norm(piece) in h1s and len(_norm(piece)) >= 4:
                return piece, None
    site_keys = set()
    if site:
        site_keys.add(_norm(site))
    host = urlsplit(url).hostname if url else None
    domain_words = set()
    if host:
        domain_words = {
            w
            for w in host.lower().split(".")
            if w not in {"www", "com", "cn", "net", "org", "co", "uk", "news"}
        }

    def names_site(piece: str) -> bool:
        key = _norm(piece)
        if not key:
            return True
        if any(key == k or (k and (key in k or k in key) and len(key) < 40) for k in site_keys):
            return True
        return key in domain_words or any(key == w.replace("-", "") for w in domain_words)

    found_site = None
    while len(parts) > 1 and names_site(parts[-1]):
        found_site = found_site or parts[-1].strip()
        parts.pop()
    while len(parts) > 1 and names_site(parts[0]):
        found_site = found_site or parts[0].strip()
        parts.pop(0)
    # Chinese titles put the headline first and channel and site names after "_", " - " or
    # "|" ("标题_财经_新浪网", "标题 - 要闻 - 云南网"); headlines themselves use "——" or "：".
    if len(parts) > 1 and len(re.findall(r"[\u4e00-\u9fff]", parts[0])) >= 4:
        return parts[0].strip(), found_site or parts[-1].strip()
    # Chinese portals append their channel and site name ("标题_财经_新浪网"): drop short
    # trailing pieces once a long headline piece stands before them.
    while (
        len(parts) > 1
        and len(parts[-1]) <= 8
        and len(parts[0]) >= 3 * len(parts[-1])
        and re.search(r"[\u4e00-\u9fff]", parts[-1])
        and re.search(
            r"(网|报|频道|新闻|在线|中心|首页|官网|门户|政府|日报|时报|周刊|社|台)$",
            parts[-1].strip(),
        )
    ):
        found_site = found_site or parts[-1].strip()
        parts.pop()
    return title_join(title, parts), found_site


def title_join(title: str, parts: list[str]) -> str:
    """The span of ``title`` from the first to the last of ``parts`` (keeps the separators)."""
    start = title.find(parts[0])
    end = title.rfind(parts[-1]) + len(parts[-1])
    return title[start:end].strip() if start >= 0 and end > start else " ".join(parts)


def main_image(facts: PageFacts, url: str | None) -> str | None:
    """The page's lead image as an absolute URL."""
    image: str | None = None
    for key in _IMAGE_META:
        if key in facts.meta:
            image = facts.meta[key]
            break
    if image is None and (article := facts.article_ld) is not None:
        value = article.get("image")
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, dict):
            value = value.get("url") or value.get("contentUrl")
        image = value if isinstance(value, str) else None
    if not image:
        return None
    return urljoin(url, image) if url else image


def keywords(facts: PageFacts, extra: list[str] | None) -> list[str]:
    """Tags of the article: JSON-LD keywords, ``article:tag``, ``keywords`` meta."""
    found: list[str] = []
    article = facts.article_ld
    raw: list[str] = []
    if article is not None:
        value = article.get("keywords")
        if isinstance(value, list):
            raw.extend(str(v) for v in value)
        elif isinstance(value, str):
            raw.extend(re.split(r"[,，、;；]", value))
    for key in ("article:tag", "news_keywords", "keywords"):
        if key in facts.meta:
            raw.extend(re.split(r"[,，、;；]", facts.meta[key]))
    raw.extend(extra or [])
    seen = set()
    for item in raw:
        item = _clean(item)
        if item and len(item) <= 60 and item.lower() not in seen:
            seen.add(item.lower())
            found.append(item)
    return found[:30]
