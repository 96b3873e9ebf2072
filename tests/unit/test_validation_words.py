"""Validation errors are worded for people: the field, then what is wrong, no pydantic prefix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from newsflow.domain.validation import describe
from newsflow.stages.alerts import RuleSpec


def test_a_rule_without_criteria_is_described_without_pydantic_words() -> None:
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate({"url": "https://hooks.example.com/x"})
    lines = describe(caught.value.errors())
    assert lines and all("Value error" not in line for line in lines)
    assert any(line.startswith("rule: ") and "at least one criterion" in line for line in lines)


def test_locations_and_skipped_parts() -> None:
    errors = [
        {"loc": ("body", "urls", 0), "msg": "Value error, not a URL"},
        {"loc": (), "msg": "Assertion failed, empty"},
        {"loc": ("name",)},
    ]
    assert describe(errors, whole="body", skip=("body",)) == [
        "urls.0: not a URL",
        "body: empty",
        "name: invalid",
    ]
