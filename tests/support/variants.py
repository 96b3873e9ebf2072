"""Syndicated copies of corpus pages: the same article re-wrapped in another site's chrome.

News is syndicated: one wire story appears on many sites with a different header, navigation,
footer and related-links blocks, another title suffix, sometimes a trimmed first or last
paragraph or an added line, sometimes in another encoding. This module makes such copies from
the pages of ``../shared/corpus``, deterministically (every choice comes from ``seed``), so the
stories benchmark (issue 11) and the similar-events evaluation (issue 12) can generate them at
run time instead of storing copies of pages in the repository.

Usage::

    corpus = Corpus()
    for spec in default_variant_specs(corpus):
        page = build_variant(spec, corpus)         # bytes, encoded as spec.encoding says
        ...                                        # spec.variant_id names it, spec.source_id
                                                   # is the page it copies (the same story)

    copy = syndicated_copy(html_bytes, seed=7, text=article_text, trim_last=True)

A copy's article body is exactly the given article text (the corpus ground truth when built
from a spec) split into paragraphs, minus the trimmed ones, plus the added line: nothing of
the original page's chrome survives, and the new chrome never contains article text.
"""

from __future__ import annotations

import html
import random
import re
from dataclasses import dataclass

import lxml.html

from newsflow.stages.decoding import decode_html
from tests.support.corpus_server import Corpus

__all__ = [
    "VARIANT_SEPARATOR",
    "VariantSpec",
    "build_variant",
    "default_variant_specs",
    "headline_of",
    "paragraphs_of",
    "source_of",
    "syndicated_copy",
    "variant_id",
]

#: Separates the source page id from the variant name in a variant id (corpus ids never
#: contain it: they are hex digests and UUIDs).
VARIANT_SEPARATOR = "~"


@dataclass(frozen=True)
class Outlet:
    """A fictional site whose chrome wraps a copy (domains under the reserved ``.example``)."""

    name: str
    domain: str
    suffix_sep: str
    body_class: str
    article_tag: str
    article_class: str


_OUTLETS = (
    Outlet("The Morning Ledger", "ledger.example", " | ", "site-ledger", "article", "story-body"),
    Outlet("Metro Wire", "metrowire.example", " - ", "mw-page", "div", "article__content"),
    Outlet("Daily Courier Online", "courier.example", " – ", "dc", "article", "entry-content"),
    Outlet("Northgate Post", "northgate.example", " :: ", "ngp-layout", "div", "post-text"),
    Outlet("Harbor Times", "harbortimes.example", " — ", "ht-main", "article", "content-body"),
    Outlet("Valley Dispatch", "valleydispatch.example", " | ", "vd", "section", "vd-article"),
    Outlet("环球快讯网", "huanqiu-kuaixun.example", "_", "hqkx", "div", "article-content"),
    Outlet("新城日报", "xincheng-daily.example", " - ", "xcrb-page", "article", "zw"),
)

_SECTIONS_EN = (
    "News",
    "World",
    "Business",
    "Markets",
    "Tech",
    "Science",
    "Sports",
    "Culture",
    "Opinion",
    "Health",
    "Travel",
    "Local",
    "Weather",
    "Video",
    "Podcasts",
)
_SECTIONS_ZH = (
    "首页",
    "新闻",
    "国际",
    "财经",
    "科技",
    "体育",
    "娱乐",
    "汽车",
    "房产",
    "教育",
    "健康",
    "旅游",
    "评论",
    "视频",
    "图片",
)
# Related-link headlines are made from these words: chrome text that an extractor must drop,
# and that never repeats a corpus article's text.
_WORDS_EN = {
    "subject": (
        "City council",
        "Local bakery",
        "Regional airline",
        "Museum",
        "School board",
        "Harbor authority",
        "Startup",
        "Library",
        "Orchestra",
        "Farmers' market",
    ),
    "verb": (
        "announces",
        "delays",
        "expands",
        "reviews",
        "celebrates",
        "reopens",
        "postpones",
        "unveils",
        "considers",
        "wins",
    ),
    "object": (
        "new schedule",
        "weekend plans",
        "budget vote",
        "summer program",
        "renovation",
        "anniversary event",
        "parking rules",
        "award",
        "community survey",
        "holiday hours",
    ),
}
_WORDS_ZH = {
    "subject": (
        "本市",
        "区图书馆",
        "市博物馆",
        "城东社区",
        "滨江公园",
        "新区学校",
        "市交通局",
        "老街商户",
        "市民中心",
        "体育中心",
    ),
    "verb": ("发布", "推出", "启动", "调整", "完成", "筹备", "开展", "更新", "公布", "举办"),
    "object": (
        "周末活动安排",
        "新版服务指南",
        "夏季开放时间",
        "便民措施",
        "年度计划",
        "改造工程",
        "志愿者招募",
        "文化节",
        "停车新规",
        "节日安排",
    ),
}
_ADDED_LINES_EN = (
    "This story has been updated.",
    "Reporting by staff writers; editing by the news desk.",
    "Follow us for more updates on this story.",
    "This article first appeared on a partner site.",
)
_ADDED_LINES_ZH = (
    "（本文转载自合作媒体，版权归原作者所有）",
    "【责任编辑：新闻中心】",
    "更多资讯请关注本网后续报道。",
)

_TITLE_SEPARATORS = re.compile(r"\s+[|\-–—:]{1,2}\s+|_{1,2}|\s*--\s*")
_HAN = re.compile(r"[\u3400-\u9fff]")


def variant_id(source_id: str, name: str) -> str:
    """The id of a copy of ``source_id`` (``<source_id>~<name>``)."""
    return f"{source_id}{VARIANT_SEPARATOR}{name}"


def source_of(item_id: str) -> str:
    """The corpus id a copy was made from, or ``item_id`` itself for a corpus page."""
    return item_id.split(VARIANT_SEPARATOR, 1)[0]


def paragraphs_of(text: str) -> list[str]:
    """Split an article text into paragraphs: one per non-blank line, whitespace collapsed."""
    return [p for line in text.splitlines() if (p := " ".join(line.split()))]


def headline_of(title: str) -> str:
    """The headline in a page title: its longest part once site names are split off.

    ``"Taliban say they freed US hostages | NY Post"`` -> ``"Taliban say they freed US
    hostages"``; ``"标题__商贸_新浪网"`` -> ``"标题"``.
    """
    parts = [p.strip() for p in _TITLE_SEPARATORS.split(title) if p.strip()]
    return max(parts, key=len) if parts else title.strip()


def _is_chinese(text: str) -> bool:
    sample = text[:2000]
    return bool(sample) and len(_HAN.findall(sample)) > 0.2 * len(sample)


def _original_title(page: str) -> tuple[str, str | None]:
    """The page's title (``<title>``, else ``og:title``, else ``<h1>``) and ``<html lang>``."""
    try:
        tree = lxml.html.document_fromstring(page)
    except Exception:  # noqa: BLE001 -- lxml raises several kinds on broken markup
        return "", None
    lang = tree.get("lang") or None
    for xpath in ("//title", "//meta[@property='og:title']/@content", "//h1"):
        for found in tree.xpath(xpath):
            value = found if isinstance(found, str) else found.text_content()
            if value and value.strip():
                return " ".join(value.split()), lang
    return "", lang


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _chrome_headline(rng: random.Random, zh: bool) -> str:
    words = _WORDS_ZH if zh else _WORDS_EN
    parts = (rng.choice(words["subject"]), rng.choice(words["verb"]), rng.choice(words["object"]))
    return "".join(parts) if zh else " ".join(parts)


def syndicated_copy(
    html_bytes: bytes,
    *,
    seed: int,
    text: str | None = None,
    trim_first: bool = False,
    trim_last: bool = False,
    add_line: str | None = None,
    encoding: str = "utf-8",
    title_suffix: str | None = None,
) -> bytes:
    """Re-wrap the article of ``html_bytes`` in another site's chrome.

    Args:
        html_bytes: the original page, any encoding (decoded as the pipeline decodes pages).
        seed: chooses the outlet, its navigation, related links, footer and byline.
        text: the article text; when omitted, the project's extractor reads it from the page.
        trim_first: drop the first paragraph (as syndicators drop a local dateline or intro).
        trim_last: drop the last paragraph.
        add_line: a line appended as the last paragraph ("This story has been updated.").
        encoding: the Python codec of the returned bytes, also declared in ``<meta charset>``
            (``utf-16`` bytes start with a byte-order mark); characters the codec cannot
            encode become numeric character references, so the page still says the same.
        title_suffix: the site name after the headline (default: the outlet's own).

    Returns the new page as bytes. Raises ValueError when the article has no text, or when
    trimming would leave no paragraph.
    """
    page, _codec = decode_html(html_bytes, None)
    original_title, lang = _original_title(page)
    if text is None:
        from newsflow.stages.extraction import extract_page

        text = extract_page(page).text or ""
    paragraphs = paragraphs_of(text)
    if trim_first:
        paragraphs = paragraphs[1:]
    if trim_last:
        paragraphs = paragraphs[:-1]
    if not paragraphs:
        raise ValueError("no article paragraph left to copy")
    if add_line:
        paragraphs.append(" ".join(add_line.split()))

    rng = random.Random(seed)
    zh = _is_chinese(" ".join(paragraphs))
    outlets = [o for o in _OUTLETS if _is_chinese(o.name) == zh]
    outlet = rng.choice(outlets)
    headline = headline_of(original_title) or paragraphs[0][:80]
    suffix = title_suffix if title_suffix is not None else outlet.suffix_sep + outlet.name
    title = headline + suffix
    sections = rng.sample(_SECTIONS_ZH if zh else _SECTIONS_EN, rng.randint(6, 9))
    related = [_chrome_headline(rng, zh) for _ in range(rng.randint(4, 6))]
    slug = f"{rng.randrange(10**6, 10**7)}"
    year = rng.randint(2015, 2024)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    byline = (
        f"{outlet.name} {year}年{month}月{day}日"
        if zh
        else f"By {outlet.name} staff · {year}-{month:02d}-{day:02d}"
    )
    labels = (
        ("相关新闻", "热门推荐", "关于我们", "联系我们", "隐私政策", "订阅", "本站")
        if zh
        else (
            "Related stories",
            "Most read",
            "About us",
            "Contact",
            "Privacy policy",
            "Subscribe to our newsletter",
            "All rights reserved",
        )
    )
    url = f"https://www.{outlet.domain}/story/{slug}"
    nav = "".join(
        f'<li><a href="https://www.{outlet.domain}/{i}">{_esc(s)}</a></li>'
        for i, s in enumerate(sections)
    )
    related_html = "".join(
        f'<li><a href="https://www.{outlet.domain}/story/{rng.randrange(10**6, 10**7)}">'
        f"{_esc(h)}</a></li>"
        for h in related
    )
    most_read = "".join(
        f'<li><a href="https://www.{outlet.domain}/story/{rng.randrange(10**6, 10**7)}">'
        f"{_esc(_chrome_headline(rng, zh))}</a></li>"
        for _ in range(3)
    )
    body = "".join(f"<p>{_esc(p)}</p>" for p in paragraphs)
    aside = (
        f'<aside class="related"><h2>{labels[0]}</h2><ul>{related_html}</ul></aside>'
        f'<aside class="most-read"><h2>{labels[1]}</h2><ol>{most_read}</ol></aside>'
    )
    article = (
        f'<{outlet.article_tag} class="{outlet.article_class}">'
        f"<h1>{_esc(headline)}</h1>"
        f'<p class="byline">{_esc(byline)}</p>'
        f"{body}"
        f"</{outlet.article_tag}>"
    )
    main = aside + article if rng.random() < 0.3 else article + aside
    lang_attr = f' lang="{_esc(lang)}"' if lang else (' lang="zh"' if zh else "")
    document = (
        "<!DOCTYPE html>\n"
        f"<html{lang_attr}>\n<head>\n"
        f'<meta charset="{_esc(encoding)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n"
        f'<meta property="og:title" content="{_esc(headline)}">\n'
        f'<meta property="og:site_name" content="{_esc(outlet.name)}">\n'
        f'<link rel="canonical" href="{url}">\n'
        "</head>\n"
        f'<body class="{outlet.body_class}">\n'
        f'<header class="masthead"><a class="logo" href="https://www.{outlet.domain}/">'
        f"{_esc(outlet.name)}</a>"
        f'<nav class="sections"><ul>{nav}</ul></nav></header>\n'
        f'<div class="ad-slot" data-slot="top"></div>\n'
        f"<main>{main}</main>\n"
        f'<footer class="site-footer"><ul>'
        f'<li><a href="https://www.{outlet.domain}/about">{labels[2]}</a></li>'
        f'<li><a href="https://www.{outlet.domain}/contact">{labels[3]}</a></li>'
        f'<li><a href="https://www.{outlet.domain}/privacy">{labels[4]}</a></li>'
        f"</ul>"
        f'<form class="newsletter" action="https://www.{outlet.domain}/subscribe">'
        f'<label>{labels[5]} <input type="email" name="email"></label></form>'
        f"<p>© {year} {_esc(outlet.name)} · {labels[6]}</p></footer>\n"
        "</body>\n</html>\n"
    )
    return document.encode(encoding, errors="xmlcharrefreplace")


@dataclass(frozen=True)
class VariantSpec:
    """One syndicated copy of one corpus page, reproducible from the corpus."""

    source_set: str
    source_id: str
    name: str
    seed: int
    trim_first: bool = False
    trim_last: bool = False
    add_line: str | None = None
    encoding: str = "utf-8"

    @property
    def variant_id(self) -> str:
        return variant_id(self.source_id, self.name)

    def describe(self) -> str:
        """The changes this copy makes, in words."""
        changes = ["other site's chrome and title suffix"]
        if self.trim_first:
            changes.append("first paragraph trimmed")
        if self.trim_last:
            changes.append("last paragraph trimmed")
        if self.add_line:
            changes.append(f"line added: {self.add_line!r}")
        if self.encoding != "utf-8":
            changes.append(f"encoded as {self.encoding}")
        return ", ".join(changes)


# The kinds of copy the default set cycles through, page by page.
_KINDS = (
    {},
    {"trim_first": True},
    {"trim_last": True},
    {"add_line": True},
    {"trim_first": True, "add_line": True},
    {"reencode": True},
)


def default_variant_specs(corpus: Corpus | None = None) -> list[VariantSpec]:
    """One syndicated copy per corpus page (250), cycling through the kinds of change.

    Pages are taken in a fixed order (scrapinghub then zh_cwced, ids sorted); page ``i``
    gets kind ``i % 6`` of: plain re-wrap, first paragraph trimmed, last trimmed, a line
    added, first trimmed plus a line added, re-encoded (GBK for Chinese pages, UTF-16 for
    the others). A trim is skipped (and the copy is a plain re-wrap) when the article has
    fewer than four paragraphs, so no copy loses more than a quarter of a short text.
    """
    corpus = corpus or Corpus()
    specs: list[VariantSpec] = []
    index = 0
    for set_name in ("scrapinghub", "zh_cwced"):
        for page_id in corpus.ids(set_name):
            text = corpus.truth(set_name, page_id)
            zh = _is_chinese(text)
            kind = _KINDS[index % len(_KINDS)]
            can_trim = len(paragraphs_of(text)) >= 4
            lines = _ADDED_LINES_ZH if zh else _ADDED_LINES_EN
            specs.append(
                VariantSpec(
                    source_set=set_name,
                    source_id=page_id,
                    name=f"syn{index % len(_KINDS)}",
                    seed=index,
                    trim_first=can_trim and bool(kind.get("trim_first")),
                    trim_last=can_trim and bool(kind.get("trim_last")),
                    add_line=lines[index % len(lines)] if kind.get("add_line") else None,
                    encoding=("gbk" if zh else "utf-16") if kind.get("reencode") else "utf-8",
                )
            )
            index += 1
    return specs


def build_variant(spec: VariantSpec, corpus: Corpus | None = None) -> bytes:
    """The bytes of the copy ``spec`` describes (its article text is the corpus truth)."""
    corpus = corpus or Corpus()
    original = corpus.page(spec.source_set, spec.source_id)
    if original is None:
        raise KeyError(f"no corpus page {spec.source_set}/{spec.source_id}")
    return syndicated_copy(
        original,
        seed=spec.seed,
        text=corpus.truth(spec.source_set, spec.source_id),
        trim_first=spec.trim_first,
        trim_last=spec.trim_last,
        add_line=spec.add_line,
        encoding=spec.encoding,
    )
