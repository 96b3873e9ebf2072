"""Masking credentials in text meant for people: stored reasons and log lines."""

from __future__ import annotations

import io
import logging

import pytest

from newsflow.domain.redact import install_log_masking, mask_secrets, strip_userinfo


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("cannot reach http://admin:pw@10.0.0.5:8080/v1: refused",
         "cannot reach http://***@10.0.0.5:8080/v1: refused"),
        ("mongodb://root:example@mongo:27017/?authSource=admin", "mongodb://***@mongo:27017/?authSource=admin"),
        ("redis://:s3cret@redis:6379/0 and https://u@h.example/", "redis://***@redis:6379/0 and https://***@h.example/"),
        ("headers {'Authorization': 'Bearer sk-abc.def'}", "headers {'Authorization': 'Bearer ***'}"),
        ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic ***"),
        ("GET /v1/models?key=AIzaXYZ&alt=json", "GET /v1/models?key=***&alt=json"),
        ("https://x.example/a?api_key=abc123#top", "https://x.example/a?api_key=***#top"),
        ("the key sk-proj-ABCDEFGHIJKLMNOP1234 was refused", "the key *** was refused"),
        ("xai-0123456789abcdefghij and AIzaSyA1234567890abcdefghijklmnopq", "*** and ***"),
        # Chat webhooks whose URL path is the credential: the id stays, the token goes.
        ("POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
         "POST https://api.telegram.org/bot123456789:***/sendMessage"),
        ("https://discord.com/api/webhooks/1234567890/abcDEF-ghi_jkl.mno", "https://discord.com/api/webhooks/1234567890/***"),
        ("https://hooks.slack.com/services/T000/B000/XXXXXXXX done", "https://hooks.slack.com/services/*** done"),
        # Ordinary text stays as it is.
        ("HTTP 429 Too Many Requests", "HTTP 429 Too Many Requests"),
        ("https://news.example/story?id=5&page=2", "https://news.example/story?id=5&page=2"),
        ("a task-list and the bearer of news", "a task-list and the bearer of news"),
        ("https://news.example/robot/2024/a-bot-story", "https://news.example/robot/2024/a-bot-story"),
        ("refused: 10.0.0.5 is a private address", "refused: 10.0.0.5 is a private address"),
    ],
)  # fmt: skip
def test_credentials_are_masked(text: str, masked: str) -> None:
    assert mask_secrets(text) == masked


def test_known_secret_values_are_masked_wherever_they_appear() -> None:
    assert mask_secrets("token is tok-123456 (tok-123456)", ["tok-123456", "", "abc"]) == (
        "token is *** (***)"
    )


def test_userinfo_is_stripped_from_urls() -> None:
    assert strip_userinfo("http://u:p@host:8080/v1?x=1") == "http://host:8080/v1?x=1"
    assert strip_userinfo("https://host/a@b") == "https://host/a@b"
    assert strip_userinfo("not a url") == "not a url"
    assert strip_userinfo(None) is None


def test_log_handlers_mask_messages_and_tracebacks() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("newsflow.test.redact")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_masking(["my-api-token"], loggers=["newsflow.test.redact"])
        install_log_masking(["my-api-token"], handlers=[handler])  # idempotent
        try:
            raise RuntimeError("cannot reach http://user:pw@10.1.1.1/ with my-api-token")
        except RuntimeError:
            logger.exception("call to %s failed", "https://a:b@api.example/v1")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "call to https://***@api.example/v1 failed" in text
    assert "RuntimeError: cannot reach http://***@10.1.1.1/ with ***" in text
    assert "pw@" not in text and "my-api-token" not in text and "a:b@" not in text
