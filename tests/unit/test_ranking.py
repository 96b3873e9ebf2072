"""The hot score: votes and reports weighted by recency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsflow.domain.ranking import age_hours, engagement, hot_score

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def test_engagement_weights() -> None:
    votes = {"up": 5, "down": 2, "important": 3, "comments": 4}
    assert engagement(votes, reports=2) == 5 - 2 + 2 * 3 + 4 + 2
    assert engagement({}, reports=-3) == 0  # reports never subtract


def test_formula_and_age() -> None:
    assert hot_score({"up": 3}, 0, 0.0) == 4 / 2**1.5
    assert hot_score({}, 0, 7.0) == 1 / 9**1.5
    assert age_hours(NOW - timedelta(hours=5), NOW) == 5.0
    assert age_hours(NOW + timedelta(hours=5), NOW) == 0.0  # a future date is "now"
    assert age_hours(None, NOW) == 0.0


def test_fresh_unvoted_news_beats_day_old_news_with_a_few_votes_but_not_a_lot() -> None:
    fresh = hot_score({}, 0, 0.5)
    day_old_few = hot_score({"up": 3}, 0, 24)
    day_old_many = hot_score({"up": 40, "important": 10}, 2, 24)
    assert day_old_many > fresh > day_old_few


def test_down_votes_sink_an_article() -> None:
    assert hot_score({"down": 5}, 0, 1) < hot_score({}, 0, 30)
