"""What a source tells about its items, used only where the page itself is silent.

A feed entry carries a title and a publish time; the source may carry a category. The
extraction keeps what the page says and takes the feed's title or time only when it found
none; the analysis keeps a clear topic of the text and takes the source's category only when
the text gave none (its fallback topic, ``news``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from newsflow.domain.contracts import ExtractionResult

#: The analysis' topic when no topic is clear (newsflow.stages.analysis.category).
_FALLBACK_TOPIC = "news"


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def apply_hints(result: ExtractionResult, hints: dict[str, Any] | None) -> ExtractionResult:
    """``result`` with the feed's title and publish time where the page had none."""
    if not hints:
        return result
    update: dict[str, Any] = {}
    evidence = list(result.evidence)
    title = hints.get("title")
    if not result.title and isinstance(title, str) and title.strip():
        update["title"] = title.strip()
        evidence.append("title from the source's feed (the page has none)")
    published = _when(hints.get("published"))
    if result.published is None and published is not None:
        update["published"] = published
        evidence.append("publish time from the source's feed (the page has none)")
    if not update:
        return result
    return result.model_copy(update={**update, "evidence": evidence})


def category_with_hint(found: str | None, hint: object) -> str | None:
    """The analysis' ``<language>_<topic>`` category, the source's topic filling a gap.

    ``found`` is what the text gave; ``hint`` the source's ``--category`` (``crypto``, or a
    whole ``zh_crypto``). A clear topic of the text wins.
    """
    if not isinstance(hint, str) or not hint.strip():
        return found
    hint = hint.strip().lower()
    language, _, topic = (found or "und_" + _FALLBACK_TOPIC).partition("_")
    if topic and topic != _FALLBACK_TOPIC:
        return found
    if "_" in hint:
        return hint
    return f"{language}_{hint}"
