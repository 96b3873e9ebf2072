"""What a page is: an article, a teaser, a paywall, a bot wall or a listing.

Every verdict other than ``ok`` needs positive evidence, and a long extracted text overrules
weak signals: calling a real article a teaser or a listing loses it for good, while missing a
teaser only lets a short text through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from ._metadata import ARTICLE_TYPES, LISTING_TYPES, PageFacts

# Challenge pages of the usual bot-protection services and their generic wording.
_BOT_MARKUP = re.compile(
    r"cf-browser-verification|cf_chl_opt|/cdn-cgi/challenge-platform|cf-challenge|"
    r"_Incapsula_Resource|px-captcha|captcha-delivery\.com|geo\.captcha-delivery|"
    r"g-recaptcha|h-captcha|hcaptcha\.com|challenges\.cloudflare\.com|ddos-guard|"
    r"sucuri_cloudproxy|awswaf|perimeterx",
    re.IGNORECASE,
)
_BOT_TEXT = re.compile(
    r"just a moment\.{0,3}|attention required|verify(?:ing)? (?:that )?you are (?:a )?human|"
    r"are you a robot|checking (?:if the site connection is secure|your browser)|"
    r"enable javascript and cookies to continue|access (?:to this page has been )?denied|"
    r"please complete the security check|unusual traffic from your (?:computer )?network|"
    r"press (?:&|and) hold|request unsuccessful|ddos protection by|"
    r"人机验证|安全验证|请完成验证|访问验证|滑动验证|验证码|您的访问过于频繁",
    re.IGNORECASE,
)

#: Class or id names of paywall containers (looked for in class/id attributes only).
_PAYWALL_MARKUP = re.compile(
    r"paywall|pay-wall|subscriber-only|subscriber-content|premium-content|meteredcontent|"
    r"article-locked|regwall|piano-offer|tp-modal",
)
_PAYWALL_TEXT = re.compile(
    r"subscribe (?:now )?to (?:continue|read|unlock)|to continue reading,? (?:please )?"
    r"(?:subscribe|log ?in|sign ?in|register)|this (?:article|content|story) is (?:only )?"
    r"(?:available|reserved|exclusive) (?:to|for) (?:subscribers|members|premium)|"
    r"already a subscriber\?|subscribers only|become a (?:member|subscriber) to read|"
    r"订阅后(?:继续)?阅读|付费(?:阅读|内容)|开通会员(?:后)?(?:阅读|查看)|登录后(?:继续)?阅读",
    re.IGNORECASE,
)
_TEASER_TEXT = re.compile(
    r"(?:continue|keep) reading|read (?:the )?(?:full|whole|rest of the|more of this) "
    r"(?:article|story)|read more\W*$|full story|阅读全文|查看全文|点击阅读|展开全文",
    re.IGNORECASE,
)
_LISTING_PATH = re.compile(
    r"/(?:tags?|topics?|categor(?:y|ies)|search|archives?|section|authors?|page/\d+|"
    r"label|list|index)(?:/|\.s?html?|$)|[?&](?:q|s|query|search|tag|page)=",
    re.IGNORECASE,
)


@dataclass
class Verdict:
    status: str = "ok"
    evidence: list[str] = field(default_factory=list)


@dataclass
class PageSignals:
    """What the status rules read from the tree, taken before the extractors change it."""

    #: Every class and id of the page, space-separated (regexes over them are fast).
    class_names: str
    #: The first visible text of the body.
    visible_head: str
    #: Headline links (``h2``/``h3`` around an ``a``) and ``<article>`` blocks.
    headline_blocks: int


def read_signals(tree: HtmlElement) -> PageSignals:
    """Read the :class:`PageSignals` of a parsed page."""
    return PageSignals(
        # Plain strings: lxml's default "smart" ones each keep a reference to their element.
        class_names=" ".join(tree.xpath("//@class|//@id", smart_strings=False)).lower(),
        visible_head=_visible_head(tree),
        headline_blocks=len(tree.xpath(".//article|.//h2[a]|.//h3[a]")),
    )


def _visible_head(tree: HtmlElement, chars: int = 4_000) -> str:
    """The first visible text of the body (scripts and styles skipped)."""
    body = tree.find(".//body")
    if body is None:
        return ""
    parts: list[str] = []
    size = 0
    skip = ("script", "style", "noscript", "template")
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in skip:  # noqa: SIM108 - commented branches
            pieces = [el.tail]  # the text after a script is visible again
        else:
            pieces = [el.text, el.tail]
        for piece in pieces:
            if piece and not piece.isspace():
                parts.append(piece)
                size += len(piece)
        if size > chars:
            break
    return " ".join(parts)


def _words_in_jsonld(facts: PageFacts) -> int | None:
    article = facts.article_ld
    if article is None:
        return None
    value = article.get("wordCount") or article.get("wordcount")
    try:
        return int(str(value).replace(",", "")) if value is not None else None
    except ValueError:
        return None


def _free_flag(facts: PageFacts) -> bool | None:
    for obj in facts.json_ld:
        for holder in (obj, obj.get("hasPart") if isinstance(obj.get("hasPart"), dict) else {}):
            value = holder.get("isAccessibleForFree") if isinstance(holder, dict) else None
            if value is None:
                continue
            return str(value).strip().lower() not in {"false", "0", "no"}
    return None


def judge(
    html: str,
    signals: PageSignals,
    facts: PageFacts,
    text: str,
    words: int,
    cjk: bool,
    url: str | None,
) -> Verdict:
    """The status of a page, with the evidence for it."""
    verdict = Verdict()
    # Thresholds in words; a CJK character carries about half an English word.
    short = 150 * (2 if cjk else 1)
    tiny = 60 * (2 if cjk else 1)
    head = html[:300_000]

    # Bot walls: a challenge page has little text and the markup or wording of a challenge.
    if words < short:
        title = facts.html_title or ""
        markup = _BOT_MARKUP.search(head)
        wording = _BOT_TEXT.search(title) or _BOT_TEXT.search(text[:2000])
        if (markup and wording) or (
            wording and words < tiny and wording.start() >= 0 and _BOT_TEXT.search(title)
        ):
            verdict.status = "bot_wall"
            if markup:
                verdict.evidence.append(f"challenge markup {markup.group(0)!r}")
            if wording:
                verdict.evidence.append(f"challenge wording {wording.group(0)!r}")
            verdict.evidence.append(f"{words} words of text")
            return verdict

    expected = _words_in_jsonld(facts)
    free = _free_flag(facts)
    body_ld = facts.article_ld.get("articleBody") if facts.article_ld else None
    markers: list[str] = []
    if free is False:
        markers.append("JSON-LD isAccessibleForFree false")
    if m := _PAYWALL_MARKUP.search(signals.class_names):
        markers.append(f"paywall markup {m.group(0)!r}")
    if m := _PAYWALL_TEXT.search(text[-1500:]):
        markers.append(f"paywall wording {m.group(0)!r} at the end of the text")
    elif words < short and (m := _PAYWALL_TEXT.search(signals.visible_head)):
        # Site headers say "Already a subscriber?" above free articles too: only a page
        # with little text counts this as a sign.
        markers.append(f"paywall wording {m.group(0)!r} on the page")
    truncated = expected is not None and expected > 0 and words < 0.6 * expected
    # A paywall class name alone proves little ("no-paywall", layouts that always carry the
    # container): it needs the schema.org flag, paywall wording or a cut text with it.
    strong = [m for m in markers if not m.startswith("paywall markup")]
    if (strong and words < short * 2) or (markers and truncated):
        verdict.status = "paywalled"
        verdict.evidence.extend(markers)
        verdict.evidence.append(
            f"{words} words extracted" + (f", JSON-LD wordCount {expected}" if expected else "")
        )
        return verdict
    if markers:
        verdict.evidence.append(
            f"{'; '.join(markers)}, but the full text is present ({words} words)"
        )

    # Teasers: a lead paragraph of a longer article.
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if truncated and words < short * 2:
        verdict.status = "teaser"
        verdict.evidence.append(
            f"{words} words, {len(paragraphs)} paragraphs, JSON-LD wordCount {expected}"
        )
        return verdict
    if isinstance(body_ld, str) and len(body_ld) > 3 * max(len(text), 1) and words < short:
        verdict.status = "teaser"
        verdict.evidence.append(f"{words} words; JSON-LD articleBody has {len(body_ld)} chars")
        return verdict
    if words < short and len(paragraphs) <= 3 and (m := _TEASER_TEXT.search(text[-300:])):
        verdict.status = "teaser"
        verdict.evidence.append(
            f"{words} words in {len(paragraphs)} paragraphs ending with {m.group(0)!r}"
        )
        return verdict

    # Listings: index, tag and search pages. Two independent signals are needed.
    is_article_markup = (
        bool(ARTICLE_TYPES & facts.ld_types)
        or ((facts.og_type or "").lower() == "article")
        or any(k in facts.meta for k in ("article:published_time", "datepublished"))
    )
    hints: list[str] = []
    if LISTING_TYPES & facts.ld_types:
        hints.append(f"JSON-LD type {min(LISTING_TYPES & facts.ld_types)}")
    path = (
        urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(url).query else "")
        if url
        else ""
    )
    if url and (m := _LISTING_PATH.search(path)):
        hints.append(f"URL {m.group(0)!r}")
    if url and urlsplit(url).path in ("", "/"):
        hints.append("URL is the site's home page")
    teasers = signals.headline_blocks
    if teasers >= 8:
        hints.append(f"{teasers} headline links or <article> blocks")
    if paragraphs:
        short_lines = sum(1 for p in paragraphs if len(p) < (25 if cjk else 60))
        if len(paragraphs) >= 8 and short_lines > 0.7 * len(paragraphs):
            hints.append(f"{short_lines} of {len(paragraphs)} text lines are short (headlines)")
    if len(hints) >= 2 and not is_article_markup and words < short * 4:
        verdict.status = "not_article"
        verdict.evidence.extend(hints)
        return verdict
    return verdict
