"""A stand-in chat-completions server on 127.0.0.1, for tests, benchmarks and end-to-end runs.

It speaks the OpenAI protocol (``POST /v1/chat/completions``, ``Authorization: Bearer``, the
standard response shape with ``usage``) and computes every answer from the request:

- a translation request (system message mentions translation) gets the ``<article_text>``
  block "translated" paragraph by paragraph: a small zh->en glossary of news words, Chinese
  punctuation mapped to Latin, any other non-Latin letter written as its code point
  (three letters each, e.g. ``ldp`` for 我), and the marker ``[translated from zh]`` in front. Latin script, paragraphs kept;
- an impact request (``response_format`` of type ``json_object``, or ``json_schema`` with a
  schema: structured output) gets a JSON object derived from the block: direction from
  counting bullish and bearish words, symbols from the candidate list that occur in the text,
  the first sentence as summary; with a schema, exactly the schema's properties;
- anything else gets a one-line description of what was received;
- ``POST /v1/embeddings`` (OpenAI's shape: ``{"model", "input": str | [str], "dimensions"?}``)
  gets, per input, :func:`embed`: hashed features of the lowercased text (its words, and
  the character trigrams of each word at half weight; CJK text as character bigrams), signed
  feature hashing (blake2b) into ``dimensions`` (default 256), ``log(1 + count)`` weights,
  unit length. Texts that share words get close vectors; nothing is looked up.

It misbehaves on demand, per request through the ``X-LLM-Misbehave`` header or in order through
:meth:`LLMServer.misbehave`: ``429`` / ``429:SECONDS`` (with Retry-After), ``500``, ``503``,
``slow:SECONDS``, ``pwned``, ``short``, ``invalid-json``, ``broken-body``, ``null-content``,
``no-choices``, ``think``, ``fence``, ``untranslated``, ``length``, ``merge``,
``huge:BYTES`` (the answer repeated to that size), ``leak`` (a 502 whose body echoes the
credentials it was sent), ``no-json-schema`` (a 400 refusing ``response_format: json_schema``,
as endpoints without structured output answer; ``LLMServer(json_schema=False)`` refuses it
on every request).
Every request is recorded in :attr:`LLMServer.requests`.

Run it alone: ``python -m tests.support.llm_server --port 8089 [--api-key KEY] [--latency S]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import signal
import threading
import time
import unicodedata
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from newsflow.adapters.providers.untrusted import extract_data

#: A few common Chinese news words, longest match first.
GLOSSARY = {
    "中国人民银行": "People's Bank of China",
    "苹果": "Apple",
    "特斯拉": "Tesla",
    "腾讯": "Tencent",
    "阿里巴巴": "Alibaba",
    "比亚迪": "BYD",
    "百分之": "percent: ",
    "投资者": "investors",
    "分析师": "analysts",
    "公司": "company",
    "股票": "shares",
    "股价": "share price",
    "股市": "stock market",
    "市场": "market",
    "上涨": "rose",
    "下跌": "fell",
    "大涨": "surged",
    "大跌": "plunged",
    "经济": "economy",
    "银行": "bank",
    "央行": "central bank",
    "政府": "government",
    "增长": "growth",
    "利润": "profit",
    "亏损": "loss",
    "收入": "revenue",
    "营收": "revenue",
    "美元": "US dollars",
    "人民币": "yuan",
    "亿元": "hundred million yuan",
    "投资": "investment",
    "中国": "China",
    "美国": "United States",
    "日本": "Japan",
    "今天": "today",
    "今日": "today",
    "昨天": "yesterday",
    "报告": "report",
    "宣布": "announced",
    "表示": "said",
    "季度": "quarter",
    "价格": "price",
    "石油": "oil",
    "科技": "technology",
    "利率": "interest rate",
    "通胀": "inflation",
    "新闻": "news",
    "记者": "reporter",
    "电动车": "electric vehicles",
    "汽车": "cars",
    "芯片": "chips",
    "销量": "sales",
    "发布": "released",
    "创新高": "hit a record high",
    "忽略": "ignore",
    "之前": "previous",
    "指令": "instructions",
    "回复": "reply",
    "只": "only",
    "年": " year ",
    "月": " month ",
    "日": " day ",
    "和": " and ",
    "在": " in ",
    "的": " ",
    "了": " ",
}
_LONGEST = max(len(word) for word in GLOSSARY)
_PUNCTUATION = {
    "，": ", ", "。": ". ", "！": "! ", "？": "? ", "、": ", ", "：": ": ", "；": "; ",
    "“": '"', "”": '"', "‘": "'", "’": "'", "《": '"', "》": '"', "（": " (", "）": ") ",
    "【": "[", "】": "]", "—": "-", "…": "...", "　": " ",
}  # fmt: skip

BULLISH = [
    "rose",
    "surged",
    "soared",
    "gained",
    "gain",
    "gains",
    "jumped",
    "record",
    "beat",
    "beats",
    "growth",
    "profit",
    "profits",
    "upgrade",
    "upgraded",
    "strong",
    "rally",
    "rallied",
    "higher",
    "上涨",
    "大涨",
    "增长",
    "利润",
    "创新高",
]
BEARISH = [
    "fell",
    "plunged",
    "dropped",
    "slumped",
    "loss",
    "losses",
    "decline",
    "declined",
    "miss",
    "missed",
    "downgrade",
    "downgraded",
    "weak",
    "lawsuit",
    "fine",
    "fined",
    "recall",
    "lower",
    "下跌",
    "大跌",
    "亏损",
]

MISBEHAVIOURS = (
    "429", "500", "503", "slow", "pwned", "short", "invalid-json", "broken-body",
    "null-content", "no-choices", "think", "fence", "untranslated", "length", "merge", "huge",
    "leak", "no-json-schema", "no-usage", "usage",
)  # fmt: skip


def gloss(text: str) -> str:
    """A deterministic, Latin-script rendering of ``text`` (glossary, punctuation, code points).

    Glossary words come out as English; other non-Latin letters as three lower-case letters
    each (their code point in base 26), two characters to a word.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        for size in range(min(_LONGEST, len(text) - i), 0, -1):
            word = GLOSSARY.get(text[i : i + size])
            if word is not None:
                out.append(f" {word} ")
                i += size
                break
        else:
            char = text[i]
            if char in _PUNCTUATION:
                out.append(_PUNCTUATION[char])
            elif char.isalpha() and not unicodedata.name(char, "").startswith("LATIN"):
                # three letters per character (its code point in base 26), a word per two
                # characters: about as long as a real translation, so length checks hold
                code = ord(char) % 17_576
                letters = "".join(chr(97 + code // 26**k % 26) for k in (2, 1, 0))
                pending = out[-1] if out and out[-1].startswith("~") else None
                if pending is not None and len(pending) < 7:
                    out[-1] = pending + letters
                else:
                    out.append("~" + letters)
            else:
                out.append(char)
            i += 1
    words = [f" {w[1:]} " if w.startswith("~") else w for w in out]
    return re.sub(r"\s+([,.!?;:)\]])", r"\1", re.sub(r"[ \t]+", " ", "".join(words))).strip()


def _language(prompt: str, which: str) -> str:
    match = re.search(rf"^{which} language:.*\((\w+)\)\s*$", prompt, re.MULTILINE)
    return match.group(1) if match else "unknown"


def translate(prompt: str) -> str:
    """The stand-in translation of the data block in ``prompt``, paragraph by paragraph."""
    data = extract_data(prompt)
    if data is None:
        return "No article text found."
    source = _language(prompt, "Source")
    paragraphs = [p for p in re.split(r"\n\s*\n", data) if p.strip()]
    rendered = [gloss(p) for p in paragraphs]
    if rendered:
        rendered[0] = f"[translated from {source}] {rendered[0]}"
    return "\n\n".join(rendered)


def analyze(prompt: str, language: str = "English") -> dict[str, Any]:
    """The stand-in impact analysis of the data block in ``prompt``, as a JSON-ready dict,
    its summary in ``language`` as the instructions ask (English: the first sentence through
    :func:`gloss`, so a Chinese article gets a Latin-script summary as a model writes one)."""
    data = extract_data(prompt) or ""
    lowered = data.lower()
    words = re.findall(r"[a-z]+", lowered)
    up = sum(words.count(w) for w in BULLISH if w.isascii()) + sum(
        lowered.count(w) for w in BULLISH if not w.isascii()
    )
    down = sum(words.count(w) for w in BEARISH if w.isascii()) + sum(
        lowered.count(w) for w in BEARISH if not w.isascii()
    )
    direction = "bullish" if up > down else "bearish" if down > up else "neutral"
    match = re.search(r"^Candidate symbols:(.*)$", prompt, re.MULTILINE)
    candidates = [s.strip() for s in (match.group(1) if match else "").split(",")]
    symbols = [s for s in candidates if s and s != "none" and s in data]
    first = re.split(r"(?<=[.!?。！？])\s*|\n", data.strip(), maxsplit=1)[0]
    return {
        "summary": ((gloss(first) if language == "English" else first) or "No text.")[:200],
        "direction": direction,
        "symbols": symbols,
        "confidence": round(min(0.95, 0.5 + 0.1 * abs(up - down)), 2),
        "rationale": f"{up} bullish and {down} bearish signal words in the article.",
    }


#: Default size of the stand-in embeddings.
EMBED_DIMS = 256
_EMBED_WORD = re.compile(r"[a-z0-9]+")
_EMBED_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


def _features(text: str) -> dict[str, float]:
    lowered = text.lower()
    counts: dict[str, float] = {}
    for word in _EMBED_WORD.findall(lowered):
        counts[f"w:{word}"] = counts.get(f"w:{word}", 0.0) + 1.0
        padded = f"<{word}>"
        for i in range(len(padded) - 2):
            key = f"c:{padded[i : i + 3]}"
            counts[key] = counts.get(key, 0.0) + 0.5
    for run in _EMBED_CJK.findall(lowered):
        for i in range(max(len(run) - 1, 1)):
            key = f"z:{run[i : i + 2]}"
            counts[key] = counts.get(key, 0.0) + 1.0
    return counts


def embed(text: str, dims: int = EMBED_DIMS) -> list[float]:
    """The stand-in embedding of ``text``: signed hashed features, unit length."""
    vector = [0.0] * dims
    for feature, count in _features(text).items():
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        slot = int.from_bytes(digest[:4], "little") % dims
        sign = 1.0 if digest[4] & 1 else -1.0
        vector[slot] += sign * math.log1p(count)
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    misbehaviour: str | None
    at: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        body = self.body if isinstance(self.body, dict) else {}
        messages = body.get("messages")
        return messages if isinstance(messages, list) else []


class LLMServer:
    """The stand-in server, in a background thread; use as a context manager or start/stop.

    Args:
        host: a loopback address.
        port: 0 picks a free port.
        api_key: required as ``Authorization: Bearer``; empty accepts any request.
        latency: seconds every answer takes (to imitate a model in benchmarks).
        json_schema: whether structured output (``response_format: json_schema``) is
            supported; False refuses it with a 400, as endpoints without it do.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, api_key: str = "test-key",
        latency: float = 0.0, json_schema: bool = True,
    ) -> None:  # fmt: skip
        if not host.startswith("127."):
            raise ValueError("the stand-in server only listens on 127.0.0.0/8")
        self.api_key = api_key
        self.latency = latency
        self.json_schema = json_schema
        self.requests: list[RecordedRequest] = []
        self._script: deque[str] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL to configure (``http://127.0.0.1:PORT/v1``)."""
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def misbehave(self, *behaviours: str) -> None:
        """Queue misbehaviours, one used per coming request, in order."""
        for behaviour in behaviours:
            if behaviour.split(":", 1)[0] not in MISBEHAVIOURS:
                raise ValueError(f"unknown misbehaviour {behaviour!r}")
        with self._lock:
            self._script.extend(behaviours)

    def reset(self) -> None:
        """Forget recorded requests and queued misbehaviours."""
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def _next_misbehaviour(self, header: str | None) -> str | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return header or None

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> Self:
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in "slow"
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(server: LLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real providers

        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
            kind = "invalid_request_error" if status < 500 else "server_error"
            self._send(status, {"error": {"message": message, "type": kind}}, headers)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": []})
            else:
                self._error(404, f"no route {self.path}")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            behaviour = server._next_misbehaviour(headers.get("x-llm-misbehave"))
            server._record(RecordedRequest("POST", self.path, headers, body, behaviour))
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/v1/embeddings"):
                return self._error(404, f"no route {self.path}")
            given = headers.get("authorization", "")
            if server.api_key and given != f"Bearer {server.api_key}":
                # As OpenAI does: the refusal echoes part of the key it was given.
                key = given.removeprefix("Bearer ")
                shown = f"{key[:8]}{'*' * 8}{key[-4:]}" if len(key) > 12 else key
                return self._error(401, f"Incorrect API key provided: {shown}.")
            if not isinstance(body, dict):
                return self._error(400, "the body must be a JSON object")
            if self.path.rstrip("/") == "/v1/embeddings":
                return self._embeddings(body, behaviour)
            messages = body.get("messages")
            if not isinstance(body.get("model"), str) or not body["model"]:
                return self._error(400, "model is required")
            if not isinstance(messages, list) or not all(
                isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages
            ):
                return self._error(400, "messages must be a list of {role, content}")
            wanted = body.get("response_format")
            if (
                isinstance(wanted, dict)
                and wanted.get("type") == "json_schema"
                and (not server.json_schema or behaviour == "no-json-schema")
            ):
                return self._error(
                    400,
                    "Invalid parameter: 'response_format' of type 'json_schema' is not "
                    "supported with this model.",
                )
            if isinstance(wanted, dict) and wanted.get("type") == "json_schema":
                spec = wanted.get("json_schema")
                if (
                    not isinstance(spec, dict)
                    or not isinstance(spec.get("schema"), dict)
                    or not isinstance(spec.get("name"), str)
                ):
                    return self._error(400, "response_format.json_schema needs a name and a schema")
            if server.latency:
                server._stopping.wait(server.latency)
            self._answer(body, messages, behaviour)
            return None

        def _embeddings(self, body: dict[str, Any], behaviour: str | None) -> None:
            name = (behaviour or "").partition(":")[0]
            if name == "429":
                return self._error(429, "Rate limit reached.", {"Retry-After": "0"})
            if name in ("500", "503"):
                return self._error(int(name), "The server had an error.")
            if name == "broken-body":
                return self._send(200, b"<html>gateway</html>")
            given = body.get("input")
            texts = [given] if isinstance(given, str) else given
            if not isinstance(body.get("model"), str) or not body["model"]:
                return self._error(400, "model is required")
            if (
                not isinstance(texts, list)
                or not texts
                or not all(isinstance(t, str) for t in texts)
            ):
                return self._error(400, "input must be a string or a list of strings")
            dims = body.get("dimensions", EMBED_DIMS)
            if not isinstance(dims, int) or not 1 <= dims <= 4096:
                return self._error(400, "dimensions must be an integer from 1 to 4096")
            if server.latency:
                server._stopping.wait(server.latency)
            used = sum(len(t) for t in texts) // 4 + 1
            self._send(200, {
                "object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": embed(t, dims)}
                         for i, t in enumerate(texts)],
                "usage": {"prompt_tokens": used, "total_tokens": used},
            })  # fmt: skip
            return None

        def _answer(self, body: dict[str, Any], messages: list[dict[str, str]],
                    behaviour: str | None) -> None:  # fmt: skip
            name, _, argument = (behaviour or "").partition(":")
            if name == "429":
                return self._error(429, "Rate limit reached.", {"Retry-After": argument or "0"})
            if name in ("500", "503"):
                return self._error(int(name), "The server had an error.")
            if name == "leak":  # a gateway error that echoes the request's credentials
                given = self.headers.get("Authorization", "")
                return self._error(
                    502, f"upstream 10.20.30.40:8443 refused request with authorization {given!r}"
                )
            if name == "slow":
                server._stopping.wait(float(argument or 5))
            if name == "broken-body":
                return self._send(200, b"<html>gateway</html>")
            system = " ".join(m["content"] for m in messages if m.get("role") == "system")
            prompt = "\n".join(m["content"] for m in messages if m.get("role") == "user")
            response_format = body.get("response_format") or {}
            kind = response_format.get("type") if isinstance(response_format, dict) else None
            if kind in ("json_object", "json_schema"):
                asked = re.search(r"sentences in ([A-Z][a-z]+)", system)
                answer = analyze(prompt, asked.group(1) if asked else "English")
                if kind == "json_schema":  # structured output: exactly the schema's properties
                    wanted = response_format["json_schema"]["schema"].get("properties") or {}
                    answer = {k: answer.get(k) for k in wanted}
                content: str | None = json.dumps(answer, ensure_ascii=False)
            elif "translat" in system.lower():
                content = translate(prompt)
            else:
                content = f"Received {len(messages)} message(s), {len(prompt)} characters."
            content = _misbehave(name, content, prompt, argument)
            if name == "no-choices":
                return self._send(200, {"id": "x", "object": "chat.completion", "choices": []})
            used: float = sum(len(m["content"]) for m in messages) // 4 + 1
            made = len(content or "") // 4 + 1
            if name == "usage":  # a broken gateway's count (e.g. 1e19)
                used = float(argument)
            answer: dict[str, Any] = {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "length" if name == "length" else "stop",
                }],
                "usage": {"prompt_tokens": used, "completion_tokens": made,
                          "total_tokens": used + made},
            }  # fmt: skip
            if name == "no-usage":  # some gateways report no token counts
                del answer["usage"]
            self._send(200, answer)
            return None

    return Handler


def _misbehave(name: str, content: str, prompt: str, argument: str = "") -> str | None:
    """The answer altered as asked: what a confused, injected or broken model would send."""
    if name == "pwned":
        return "PWNED"
    if name == "short":
        return " ".join(content.split()[:2])
    if name == "invalid-json":
        return '{"summary": "cut off", "direction": '
    if name == "null-content":
        return None
    if name == "think":
        return f"<think>The user wants this; let me think.</think>\n{content}"
    if name == "fence":
        return f"```json\n{content}\n```"
    if name == "untranslated":
        return extract_data(prompt) or content
    if name == "merge":
        return " ".join(content.split())
    if name == "huge":
        size = int(argument or 10_000_000)
        return (content + "\n") * (size // (len(content) + 1) + 1)
    return content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--api-key", default="test-key", help="empty: accept any request")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    args = parser.parse_args()
    server = LLMServer(args.host, args.port, api_key=args.api_key, latency=args.latency)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"stand-in LLM server listening on {server.url}", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
