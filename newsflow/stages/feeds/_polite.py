"""Politeness: when to poll a source next, and what robots.txt allows.

- ``next_interval``: sources that publish often are polled more often, quiet ones less,
  within ``[lo, hi]``; a fixed interval (``--interval``) is kept as given; an RSS ``<ttl>``
  is a floor.
- ``failure_delay``: exponential backoff after consecutive failures, at least what a
  ``Retry-After`` asked, at most ``hi``.
- ``RobotsRules``: robots.txt read by protego (RFC 9309 with the common extensions); an
  unreadable robots.txt (4xx) allows everything, as the RFC says.
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

#: Factor applied to the interval after a poll that found new items / found none.
FASTER = 0.5
SLOWER = 1.5


def clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def next_interval(
    current: float,
    new_items: int,
    *,
    lo: float,
    hi: float,
    fixed: float | None = None,
    ttl: float | None = None,
) -> float:
    """The interval after a successful poll that found ``new_items`` new items."""
    if fixed is not None:
        interval = fixed
    else:
        interval = clamp(current * (FASTER if new_items else SLOWER), lo, hi)
    if ttl is not None:
        interval = max(interval, min(ttl, hi))
    return interval


def failure_delay(
    failures: int, base: float, *, hi: float, retry_after: float | None = None
) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure (1 = the first)."""
    delay = base * 2 ** max(0, failures - 1)
    delay *= 1 + random.uniform(-0.1, 0.1)  # replicas and sources do not move in lockstep
    if retry_after is not None:
        delay = max(delay, retry_after)
    return clamp(delay, min(base, hi), hi)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))


def agent_token(user_agent: str) -> str:
    """The product token robots.txt groups match: ``Newsflow`` of ``Newsflow/0.1 (+...)``."""
    return (user_agent.split("/", 1)[0].split() or ["*"])[0]


class RobotsRules:
    """What one host's robots.txt allows for our user agent."""

    def __init__(self, text: str | None, user_agent: str) -> None:
        self.agent = agent_token(user_agent)
        self._rules = Protego.parse(text) if text else None

    @classmethod
    def allow_all(cls, user_agent: str) -> RobotsRules:
        return cls(None, user_agent)

    def allowed(self, url: str) -> bool:
        return self._rules is None or bool(self._rules.can_fetch(url, self.agent))

    def crawl_delay(self) -> float | None:
        if self._rules is None:
            return None
        delay = self._rules.crawl_delay(self.agent)
        return float(delay) if delay is not None else None
