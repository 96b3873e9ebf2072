"""Whether a page's own site name can be shown as an article's source (plain logic)."""

from __future__ import annotations

import unicodedata


def _squash(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).lower() if c.isalnum())


#: What a site name written in Chinese or Japanese never holds: a copyright notice, a list.
_NOT_A_NAME = ("版权", "所有", "©", "Copyright", "copyright", ",", "，", "、", "|")


def plausible_site(name: str | None, title: str | None, host: str) -> bool:
    """Whether a page's own site name can be shown as its source.

    Pages put odd things where the site name goes (a section such as "U.S.", a headline, a
    journal's topic); a name is believed when it is short, is not the headline, and matches
    the host (a word of it, or its initials, is in the host name) or is written in Chinese or
    Japanese (whose names rarely spell their domain).
    """
    if not name or not name.strip():
        return False
    name = name.strip()
    if len(name) > 60 or len(name.split()) > 6:
        return False
    if title and _squash(name) and _squash(name) == _squash(title):
        return False
    if any(_is_wide(c) for c in name):
        # not a copyright line ("人民网版权所有") nor a list of names ("www.yunnan.cn,云南日报网,...")
        return not any(mark in name for mark in _NOT_A_NAME) and len(name) <= 20
    squashed_host = _squash(host.split(":")[0])
    words = [_squash(w) for w in name.replace(".", " ").replace("-", " ").split()]
    words = [w for w in words if w]
    if not words:
        return False
    if _squash(name) in squashed_host:
        return True
    if any(len(w) >= 3 and w in squashed_host for w in words if w not in ("the", "news")):
        return True
    initials = "".join(w[0] for w in words if w not in ("the", "a"))
    return len(initials) >= 2 and initials in squashed_host


def _is_wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and ch.isalpha()


__all__ = ["plausible_site"]
