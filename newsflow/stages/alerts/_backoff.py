"""Backoff between delivery attempts: exponential, capped, with jitter."""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    jitter: float = 0.1,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the first).

    ``base * 2 ** (attempt - 1)``, capped at ``cap``, spread by +-``jitter`` so replicas do
    not retry in step; a receiver's ``Retry-After`` is honoured when longer (still capped).
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    delay = min(cap, base * 2 ** (attempt - 1))
    delay *= 1 + (rng or random).uniform(-jitter, jitter)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, min(cap, delay))
