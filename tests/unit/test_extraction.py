"""extract_page on small pages written for the purpose: text, metadata and honest statuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from newsflow.stages.extraction import count_words, detect_language, extract_page, precheck
from newsflow.stages.extraction._metadata import page_time, parse_date

EN_PARAGRAPHS = [
    (
        "The city council voted on Tuesday to expand the tram network to the northern districts, "
        "a project that has been debated for more than a decade and will cost about 400 million euros."
    ),
    (
        "Supporters say the new line will cut commuting times in half for tens of thousands of "
        "residents who now depend on crowded buses that are often stuck in traffic for hours."
    ),
    (
        "Opponents argued that the money would be better spent on repairing existing roads and "
        "bridges, several of which were found to be in poor condition in an inspection last year."
    ),
    (
        "Construction is expected to begin next spring, and the first trams could run by 2028 if "
        "the national government approves the funding request submitted by the regional authority."
    ),
    (
        "The mayor said the vote was a turning point for the city and promised that local businesses "
        "along the route would be compensated for any losses during the construction works."
    ),
]
ZH_PARAGRAPHS = [
    (
        "本报讯 记者从市交通运输局获悉，北部城区有轨电车延伸工程日前正式获得批准，预计明年春天开工建设，"
        "工程总投资约三十亿元，建成后将大大缓解北部地区居民的出行压力。"
    ),
    (
        "据介绍，新线路全长约十八公里，共设车站十五座，沿线将经过多个大型居住区、学校和医院，"
        "通车后从北部城区到市中心的时间将由目前的一个多小时缩短到三十分钟左右。"
    ),
    (
        "市交通运输局有关负责人表示，施工期间将采取分段施工、错峰作业等措施，尽量减少对沿线居民"
        "和商户的影响，并将对受影响的商户给予适当补偿。"
    ),
    (
        "不少市民对此表示欢迎。家住北部城区的李女士说，她每天上下班都要挤公交车，路上经常堵车，"
        "希望有轨电车能够早日建成通车，让出行更加方便快捷。"
    ),
]


def page(
    body: str,
    *,
    title: str = "Page",
    head: str = "",
    lang: str = "en",
    json_ld: object | None = None,
) -> str:
    """A complete HTML document around ``body``."""
    ld = (
        (f'<script type="application/ld+json">{json.dumps(json_ld, ensure_ascii=False)}</script>')
        if json_ld is not None
        else ""
    )
    nav = "".join(f'<li><a href="/section/{i}">Section {i}</a></li>' for i in range(8))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"{head}{ld}</head><body><header><nav><ul>{nav}</ul></nav></header>{body}"
        "<footer><p>Copyright 2024 Example Media. All rights reserved.</p></footer></body></html>"
    )


def article_body(paragraphs: list[str], headline: str, byline: str = "") -> str:
    ps = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"<main><article><h1>{headline}</h1>{byline}{ps}</article></main>"


def test_english_article_text_and_metadata() -> None:
    headline = "Council approves tram extension to the north"
    html = page(
        article_body(EN_PARAGRAPHS * 2, headline),
        title=f"{headline} | Example Times",
        head=(
            '<meta property="og:site_name" content="Example Times">'
            '<meta property="og:type" content="article">'
            '<meta property="og:image" content="/img/tram.jpg">'
            '<meta name="keywords" content="transport, city council">'
        ),
        json_ld={
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": headline,
            "datePublished": "2024-05-14T09:30:00+02:00",
            "author": {"@type": "Person", "name": "Jane Doe"},
        },
    )
    result = extract_page(html, "https://news.example.com/2024/05/14/tram")
    assert result.status == "ok", result.evidence
    assert result.title == headline
    assert result.site_name == "Example Times"
    assert result.author == "Jane Doe"
    assert result.published is not None
    assert result.published.utcoffset() == timedelta(hours=2)
    assert (result.published.year, result.published.month, result.published.day) == (2024, 5, 14)
    assert result.language == "en" and result.script is None
    assert result.image == "https://news.example.com/img/tram.jpg"
    assert "transport" in result.tags
    assert result.text is not None
    assert EN_PARAGRAPHS[0] in result.text
    assert "Section 3" not in result.text and "Copyright" not in result.text
    assert result.word_count == count_words(result.text) > 300
    assert result.method


def test_chinese_article_metadata_and_character_count() -> None:
    headline = "北部城区有轨电车延伸工程获批 明年春天开工"
    body = article_body(
        ZH_PARAGRAPHS * 2,
        headline,
        byline="<div class='info'>2024年05月14日 09:30 来源：示例日报 作者：王小明</div>",
    )
    html = page(body, title=f"{headline}_新闻中心_示例网", lang="zh-CN")
    result = extract_page(html, "https://news.example.cn/2024/0514/123.html")
    assert result.status == "ok", result.evidence
    assert result.title == headline
    assert result.language == "zh" and result.script == "Hans"
    assert result.author == "王小明"
    assert result.published is not None
    assert (
        result.published.year,
        result.published.month,
        result.published.day,
        result.published.hour,
        result.published.minute,
    ) == (2024, 5, 14, 9, 30)
    # the page gives no zone: a Chinese page's time is China's (UTC+8), not UTC
    assert result.published.utcoffset() == timedelta(hours=8)
    assert result.text is not None and ZH_PARAGRAPHS[1] in result.text
    # Characters, not spaces: a whitespace split would count a handful of "words".
    assert result.word_count > 400
    assert len(result.text.split()) < 50


@pytest.mark.parametrize(
    ("text", "language", "script"),
    [
        ("這是一篇關於城市交通發展的新聞報導，記者在現場採訪了許多市民。", "zh", "Hant"),
        ("这是一篇关于城市交通发展的新闻报道，记者在现场采访了许多市民。", "zh", "Hans"),
        (
            "これは都市交通の発展についてのニュース記事です。記者は多くの市民に話を聞いた。",
            "ja",
            "Jpan",
        ),
        (
            "이것은 도시 교통 발전에 관한 뉴스 기사입니다. 기자는 많은 시민들을 인터뷰했습니다.",
            "ko",
            "Kore",
        ),
        (
            "Ceci est un article sur le développement des transports urbains dans la ville.",
            "fr",
            None,
        ),
    ],
)
def test_language_and_script(text: str, language: str, script: str | None) -> None:
    assert detect_language(text * 3) == (language, script)


def test_teaser_with_json_ld_word_count() -> None:
    lead = EN_PARAGRAPHS[0]
    html = page(
        f"<article><h1>Tram extension</h1><p>{lead}</p>"
        '<p><a href="/full">Continue reading</a></p></article>',
        title="Tram extension",
        json_ld={"@type": "NewsArticle", "headline": "Tram extension", "wordCount": 1200},
    )
    result = extract_page(html, "https://example.com/news/tram")
    assert result.status == "teaser"
    assert any("wordCount 1200" in e for e in result.evidence), result.evidence
    assert result.text and lead[:40] in result.text


def test_paywalled_by_schema_org_flag() -> None:
    html = page(
        f"<article><h1>Markets</h1><p>{EN_PARAGRAPHS[1]}</p>"
        '<div class="paywall"><p>Subscribe to continue reading this article.</p></div></article>',
        title="Markets",
        json_ld={
            "@type": "NewsArticle",
            "headline": "Markets",
            "isAccessibleForFree": "False",
            "hasPart": {
                "@type": "WebPageElement",
                "isAccessibleForFree": "False",
                "cssSelector": ".paywall",
            },
        },
    )
    result = extract_page(html, "https://example.com/markets/today")
    assert result.status == "paywalled"
    assert "JSON-LD isAccessibleForFree false" in result.evidence


def test_full_article_with_paywall_flag_stays_ok() -> None:
    # Subscribers' copies and metered sites carry the flag with the whole text: not a paywall.
    html = page(
        article_body(EN_PARAGRAPHS * 3, "Tram"),
        title="Tram",
        json_ld={"@type": "NewsArticle", "isAccessibleForFree": False},
    )
    result = extract_page(html, "https://example.com/a")
    assert result.status == "ok"
    assert any("full text is present" in e for e in result.evidence)


def test_cloudflare_challenge_is_a_bot_wall() -> None:
    html = (
        '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
        '<meta name="robots" content="noindex,nofollow"></head><body>'
        '<div class="main-wrapper"><h1>example.com</h1><h2>Checking if the site connection is '
        "secure</h2><p>Verify you are human by completing the action below.</p>"
        "<noscript>Enable JavaScript and cookies to continue</noscript></div>"
        '<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script>'
        "</body></html>"
    )
    result = extract_page(html, "https://example.com/article")
    assert result.status == "bot_wall"
    assert any("challenge" in e for e in result.evidence), result.evidence


def test_tag_page_is_not_an_article() -> None:
    items = "".join(
        f'<article><h2><a href="/news/{i}">Headline number {i} about the city</a></h2>'
        f"<p>Short summary {i}.</p></article>"
        for i in range(20)
    )
    html = page(
        f"<main><h1>Tag: transport</h1>{items}</main>",
        title="transport - Example",
        json_ld={"@type": "CollectionPage", "name": "transport"},
    )
    result = extract_page(html, "https://example.com/tag/transport")
    assert result.status == "not_article"
    assert "JSON-LD type collectionpage" in result.evidence, result.evidence
    assert len(result.evidence) >= 2


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        ("", "empty page"),
        ("   \n\t ", "empty page"),
        ("\x00\x01\x02\x03\ufffd" * 2000, "not HTML: binary data"),
        ("just some words without any markup " * 50, "not HTML: no HTML markup"),
        (
            "<html><body>" + "<p>x</p>" * 300_000 + "</body></html>",
            "page has 300002 elements (limit 100000)",
        ),
        ("<html><body>" + "<div>" * 120_000 + "</body></html>", "elements (limit 100000)"),
        ("<html><body>" + '<a href="/x">l</a>' * 200_000 + "</body></html>", "elements"),
    ],
    ids=["empty", "blank", "binary", "no-markup", "300k-p", "deep-120k", "200k-links"],
)
def test_pathological_pages_refused_before_parsing(html: str, reason: str) -> None:
    assert reason in (precheck(html, 100_000) or "")
    result = extract_page(html)
    assert result.status == "failed"
    assert result.error is not None and reason in result.error


def test_page_without_main_content_fails_with_reason() -> None:
    result = extract_page("<html><head><title>x</title></head><body><div></div></body></html>")
    assert result.status == "failed"
    assert result.error == "no main content found"


def test_bytes_are_refused_with_a_reason() -> None:
    result = extract_page(b"<html></html>")  # type: ignore[arg-type]
    assert result.status == "failed" and "decoded text" in (result.error or "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # a zone abbreviation is read (reviewer: CRN's "07:47 PM EST" was shown as 19:47 UTC)
        ("Tue, 19 Nov 2019 07:47 PM EST", datetime(2019, 11, 20, 0, 47, tzinfo=UTC)),
        ("2019-11-19 10:02 PDT", datetime(2019, 11, 19, 17, 2, tzinfo=UTC)),
        ("2024-05-14T09:30:00+08:00", datetime(2024, 5, 14, 1, 30, tzinfo=UTC)),
        # placeholders are no date (USA Today's JSON-LD "0001-01-01T00:00:00Z")
        ("0001-01-01T00:00:00Z", None),
        ("2999-01-01", None),
    ],
)
def test_dates_with_zones_and_placeholders(value: str, expected: datetime | None) -> None:
    parsed = parse_date(value)
    assert (parsed.astimezone(UTC) if parsed else None) == expected


@pytest.mark.parametrize(
    ("naive", "language", "offset"),
    # naive on purpose: a time as a page gives it, without a zone
    [
        (datetime(2020, 11, 26, 8, 4), "zh", 8),  # noqa: DTZ001 -- Sohu's 08:04 is 00:04 UTC
        (datetime(2020, 11, 26, 8, 4), "ja", 9),  # noqa: DTZ001
        (datetime(2020, 11, 26, 8, 4), "en", None),  # noqa: DTZ001 -- English gives no zone
        (datetime(2022, 2, 13), "zh", None),  # noqa: DTZ001 -- a bare date: nothing to shift
    ],
)
def test_a_time_without_a_zone_takes_its_pages_language_zone(
    naive: datetime, language: str, offset: int | None
) -> None:
    placed = page_time(naive, language)
    assert placed is not None
    assert placed.utcoffset() == (timedelta(hours=offset) if offset is not None else None)
    assert placed.replace(tzinfo=None) == naive
