"""Structured output: the impact analysis asks for its JSON schema, and falls back to JSON mode.

Against the chat-completions stand-in (tests/support/llm_server.py), which answers a
``json_schema`` request with exactly the schema's properties and refuses it with a 400 where
told to (``json_schema=False``, or the ``no-json-schema`` misbehaviour), as endpoints without
structured output do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from newsflow.adapters.providers import OpenAICompatible, ProviderError, ResponseSchema
from newsflow.domain.contracts import Impact
from newsflow.settings import Settings
from newsflow.stages.impact import IMPACT_SCHEMA, analyze_impact
from tests.support.llm_server import LLMServer

KEY = "sk-structured-0000000000000000"
SETTINGS = Settings(_env_file=None)  # type: ignore[call-arg]
TITLE = "Apple shares rose to a record"
TEXT = "Apple (AAPL) shares rose 4% to a record high after strong iPhone sales beat estimates."


@pytest.fixture
def refusing() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY, json_schema=False) as server:
        yield server


@pytest.fixture
def capable() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as server:
        yield server


def test_the_impact_schema_is_strict() -> None:
    schema = IMPACT_SCHEMA.schema
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == set(Impact.model_fields) == set(schema["properties"])
    assert schema["properties"]["direction"]["enum"] == ["bullish", "bearish", "neutral"]
    assert IMPACT_SCHEMA.response_format()["json_schema"]["strict"] is True


def test_nested_models_are_closed_and_fully_required() -> None:
    class Inner(BaseModel):
        a: int = 1

    class Outer(BaseModel):
        inner: Inner
        tags: list[Inner] = []

    schema = ResponseSchema.of(Outer).schema
    inner = schema["$defs"]["Inner"]
    assert inner["additionalProperties"] is False and inner["required"] == ["a"]
    assert "default" not in inner["properties"]["a"] and "title" not in inner
    assert schema["required"] == ["inner", "tags"]


async def test_an_endpoint_with_structured_output_gets_the_schema(capable: LLMServer) -> None:
    async with OpenAICompatible(capable.url, "analyst", KEY, retries=0) as provider:
        result = await analyze_impact(TITLE, TEXT, ["AAPL"], provider, SETTINGS)
        assert result.status == "ok", result.reason
        assert provider.json_schema_supported is True
    [request] = capable.requests
    assert request.body["response_format"] == IMPACT_SCHEMA.response_format()
    assert result.impact is not None and result.impact.symbols == ["AAPL"]


async def test_a_refusing_endpoint_is_asked_again_in_json_mode_and_remembered(
    refusing: LLMServer,
) -> None:
    async with OpenAICompatible(refusing.url, "analyst", KEY, retries=0) as provider:
        first = await analyze_impact(TITLE, TEXT, ["AAPL"], provider, SETTINGS)
        second = await analyze_impact(TITLE, TEXT, ["AAPL"], provider, SETTINGS)
        assert provider.json_schema_supported is False
    assert (first.status, second.status) == ("ok", "ok"), (first.reason, second.reason)
    kinds = [r.body["response_format"]["type"] for r in refusing.requests]
    # One refusal, then JSON mode at once (retries=0: the refusal is not a failed attempt),
    # and the second article goes straight to JSON mode.
    assert kinds == ["json_schema", "json_object", "json_object"]


async def test_the_fallback_is_per_provider_instance(capable: LLMServer) -> None:
    capable.misbehave("no-json-schema")
    async with OpenAICompatible(capable.url, "a", KEY, retries=0) as refused_once:
        assert (await analyze_impact(TITLE, TEXT, [], refused_once, SETTINGS)).status == "ok"
        assert refused_once.json_schema_supported is False
    async with OpenAICompatible(capable.url, "b", KEY, retries=0) as other:
        assert (await analyze_impact(TITLE, TEXT, [], other, SETTINGS)).status == "ok"
        assert other.json_schema_supported is True
    kinds = [r.body["response_format"]["type"] for r in capable.requests]
    assert kinds == ["json_schema", "json_object", "json_schema"]


async def test_other_client_errors_are_not_taken_for_a_refusal(capable: LLMServer) -> None:
    # A 400 that does not name response_format (here: no model) is an error, not a fallback.
    async with OpenAICompatible(capable.url, "m", KEY, retries=0) as provider:
        provider.model = ""
        with pytest.raises(ProviderError, match="request rejected"):
            await provider.complete([{"role": "user", "content": "x"}], schema=IMPACT_SCHEMA)
        assert provider.json_schema_supported is None
