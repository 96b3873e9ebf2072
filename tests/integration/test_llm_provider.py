"""The OpenAI-compatible client against the stand-in chat-completions server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from newsflow.adapters.providers import OpenAICompatible, ProviderError
from tests.support.llm_server import LLMServer

KEY = "sk-test-0123456789abcdef"
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(scope="module")
def llm() -> Iterator[LLMServer]:
    with LLMServer(api_key=KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(llm: LLMServer) -> None:
    llm.reset()


@pytest.fixture
async def provider(llm: LLMServer) -> AsyncIterator[OpenAICompatible]:
    async with OpenAICompatible(llm.url + "/", "stand-in-1", KEY, backoff=0.01) as client:
        yield client


async def test_a_call_speaks_the_protocol(llm: LLMServer, provider: OpenAICompatible) -> None:
    answer = await provider.complete(HELLO)
    assert answer == "Received 1 message(s), 5 characters."
    [request] = llm.requests
    assert request.path == "/v1/chat/completions"  # the trailing slash was stripped
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {"model": "stand-in-1", "messages": HELLO}
    assert provider.calls == 1 and provider.prompt_tokens > 0 and provider.completion_tokens > 0


async def test_chat_reports_the_usage_and_latency_of_the_answer(
    llm: LLMServer, provider: OpenAICompatible
) -> None:
    llm.misbehave("slow:0.2")
    completion = await provider.chat(HELLO)
    answer = "Received 1 message(s), 5 characters."
    assert completion.text == answer
    # the stand-in counts a token per four characters, plus one, of what it received and sent
    assert (completion.prompt_tokens, completion.completion_tokens) == (
        len("Hello") // 4 + 1,
        len(answer) // 4 + 1,
    )
    assert completion.latency >= 0.2
    # a retried call (429 first) reports the answer's usage once, and the whole wait
    llm.misbehave("429:0.1")
    retried = await provider.chat(HELLO)
    assert (retried.prompt_tokens, retried.completion_tokens) == (2, len(answer) // 4 + 1)
    assert retried.latency >= 0.1 and len(llm.requests) == 3


async def test_json_mode_asks_for_a_json_object(llm: LLMServer, provider: OpenAICompatible) -> None:
    await provider.complete(HELLO, json_mode=True)
    assert llm.requests[0].body["response_format"] == {"type": "json_object"}


async def test_a_wrong_key_fails_at_once_with_a_clear_reason(
    llm: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with OpenAICompatible(llm.url, "m", "sk-wrong-key-999999", backoff=0.01) as client:
        with pytest.raises(ProviderError) as caught:
            await client.complete(HELLO)
    assert "the API key was refused (HTTP 401 Unauthorized)" in str(caught.value)
    assert not caught.value.retryable
    assert len(llm.requests) == 1  # a 401 is not retried
    assert "sk-wrong-key-999999" not in str(caught.value)
    assert "sk-wrong-key-999999" not in caplog.text


async def test_a_missing_key_is_named(llm: LLMServer) -> None:
    async with OpenAICompatible(llm.url, "m", "") as client:
        with pytest.raises(ProviderError, match="the API key is missing"):
            await client.complete(HELLO)
    assert "authorization" not in llm.requests[0].headers


async def test_a_429_waits_for_retry_after_then_succeeds(
    llm: LLMServer, provider: OpenAICompatible
) -> None:
    llm.misbehave("429:0.3")
    started = time.monotonic()
    answer = await provider.complete(HELLO)
    assert time.monotonic() - started >= 0.3
    assert len(llm.requests) == 2
    assert answer == await provider.complete(HELLO)  # the answer a plain call gets


async def test_a_429_asking_too_long_a_wait_fails_at_once(llm: LLMServer) -> None:
    llm.misbehave("429:120")
    async with OpenAICompatible(llm.url, "m", KEY, max_retry_after=5) as client:
        with pytest.raises(ProviderError, match="asks to wait 120 s, longer than the 5 s limit"):
            await client.complete(HELLO)
    assert len(llm.requests) == 1


async def test_server_errors_are_retried(llm: LLMServer, provider: OpenAICompatible) -> None:
    llm.misbehave("500", "503")
    answer = await provider.complete(HELLO)
    assert len(llm.requests) == 3
    assert answer == await provider.complete(HELLO)  # the answer a plain call gets


async def test_persistent_server_errors_give_up_with_the_reason(llm: LLMServer) -> None:
    llm.misbehave("500", "500", "500")
    async with OpenAICompatible(llm.url, "m", KEY, retries=1, backoff=0.01) as client:
        with pytest.raises(ProviderError) as caught:
            await client.complete(HELLO)
    assert str(caught.value) == (
        f"openai provider at 127.0.0.1:{llm.port}: server error (HTTP 500 Internal Server "
        "Error) (gave up after 2 attempts)"
    )
    assert caught.value.retryable
    assert len(llm.requests) == 2


async def test_a_slow_answer_times_out_and_is_retried(llm: LLMServer) -> None:
    llm.misbehave("slow:3", "slow:3")
    async with OpenAICompatible(llm.url, "m", KEY, timeout=0.3, retries=1, backoff=0.01) as client:
        started = time.monotonic()
        with pytest.raises(
            ProviderError, match=r"127.0.0.1:\d+: no answer within 0.3 s \(ReadTimeout\)"
        ):
            await client.complete(HELLO)
    assert time.monotonic() - started < 2
    assert len(llm.requests) == 2


async def test_an_unreachable_server_is_named() -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with OpenAICompatible(f"http://127.0.0.1:{port}/v1", "m", retries=0) as client:
        with pytest.raises(
            ProviderError, match=f"^openai provider at 127.0.0.1:{port}: cannot connect \\(Connect"
        ):
            await client.complete(HELLO)


async def test_a_wrong_base_url_points_at_the_setting(llm: LLMServer) -> None:
    base = llm.url.removesuffix("/v1") + "/wrong"
    async with OpenAICompatible(base, "m", KEY) as client:
        with pytest.raises(ProviderError, match=r"not found .*check the base URL"):
            await client.complete(HELLO)


async def test_a_bad_request_is_not_retried(
    llm: LLMServer, provider: OpenAICompatible, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ProviderError, match=r"request rejected \(HTTP 400 Bad Request\)$"):
        await provider.complete([{"role": "user"}])  # type: ignore[list-item]
    assert len(llm.requests) == 1
    assert "messages must be a list" in caplog.text  # the provider's words: in the log only


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ("null-content", "the answer has no content \\(finish_reason=stop\\)"),
        ("no-choices", "the answer has no choices"),
        ("broken-body", "the answer is not JSON"),
        ("length", "cut off at the model's token limit"),
    ],
)
async def test_unusable_answers_are_explained(
    llm: LLMServer, provider: OpenAICompatible, behaviour: str, reason: str
) -> None:
    llm.misbehave(behaviour)
    with pytest.raises(ProviderError, match=reason):
        await provider.complete(HELLO)
    assert len(llm.requests) == 1


async def test_reasoning_is_removed_from_the_answer(
    llm: LLMServer, provider: OpenAICompatible
) -> None:
    llm.misbehave("think")
    assert await provider.complete(HELLO) == "Received 1 message(s), 5 characters."


async def test_a_header_can_ask_the_server_to_misbehave(llm: LLMServer) -> None:
    headers = {"X-LLM-Misbehave": "pwned"}
    async with OpenAICompatible(llm.url, "m", KEY, extra_headers=headers) as client:
        assert await client.complete(HELLO) == "PWNED"


async def test_an_oversized_answer_is_refused_while_it_is_read(
    llm: LLMServer, provider: OpenAICompatible
) -> None:
    # Whatever a model answers is parsed on the worker's event loop: the body is read up to a
    # cap (MAX_ANSWER_BYTES), not whole into memory and then through json, tags and checks.
    llm.misbehave("huge:12000000")
    with pytest.raises(ProviderError, match="larger than"):
        await provider.complete(HELLO)
    assert len(llm.requests) == 1  # not worth retrying
    llm.misbehave("huge:200000")  # a long answer below the cap is fine
    assert len(await provider.complete(HELLO)) > 190_000
